//! How wildrun's messages look on stderr: progress as plain lines,
//! problems as `warning: file:line: message`.

/// Formats log events for people on a terminal: progress as plain lines,
/// problems as `warning: file:line: message` / `error: ...`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PeopleFormat;

#[derive(Default)]
struct EventText {
    message: String,
    at: Option<String>,
    fields: Vec<(String, String)>,
}

impl tracing::field::Visit for EventText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "at" => self.at = Some(format!("{value:?}")),
            name => self.fields.push((name.to_string(), format!("{value:?}"))),
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "at" => self.at = Some(value.to_string()),
            name => self.fields.push((name.to_string(), value.to_string())),
        }
    }
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for PeopleFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => Some("error"),
            tracing::Level::WARN => Some("warning"),
            tracing::Level::INFO => None,
            tracing::Level::DEBUG => Some("debug"),
            tracing::Level::TRACE => Some("trace"),
        };
        let mut text = EventText::default();
        event.record(&mut text);
        if let Some(level) = level {
            write!(writer, "{level}: ")?;
        }
        if let Some(at) = &text.at {
            write!(writer, "{at}: ")?;
        }
        write!(writer, "{}", text.message)?;
        for (k, v) in &text.fields {
            write!(writer, " {k}={v}")?;
        }
        writeln!(writer)
    }
}
