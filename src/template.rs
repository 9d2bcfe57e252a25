//! `template::` for scripts: envsubst-compatible `${VAR}` / `$VAR` substitution.
//!
//! Unlike envsubst, a variable the template uses but the caller did not give
//! is an error naming the variable and the template line, never an empty
//! string in a manifest. `$${` writes a literal `${` and `$$` a literal `$`.
//!
//! A YAML template ([`TemplateKind::Yaml`]) keeps its structure whatever the
//! values: each value is written as part of the scalar (or comment) its
//! reference stands in, quoted or escaped as that place needs, or refused
//! when it cannot stay there. A value such as `x"\n---\nkind: ...` would
//! otherwise add documents to the plan. The rendered text is then parsed
//! again and compared with the template, event by event, so a value that
//! slipped past the rules is refused too.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};
use std::ops::Range;

/// A template references a variable that was not given, writes a malformed
/// `${`, or is given a value that cannot stay where its reference stands:
/// `template:line: message`, so a person can open the template at that line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template}:{line}: {message}")]
pub(crate) struct TemplateError {
    /// The template's name (file path or `template`).
    pub(crate) template: String,
    /// 1-based line of the reference.
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) message: String,
}

/// What a template is, which says how values are written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateKind {
    /// YAML: a value stays inside the scalar or comment where its reference
    /// stands, and cannot change the documents' structure.
    Yaml,
    /// Text that is not YAML (a configuration file a ConfigMap carries):
    /// values are written as they are, as envsubst does.
    Text,
}

/// A part of a template: text, or a reference to a variable.
#[derive(Debug)]
enum Piece {
    /// Literal text (`$$` already turned into `$`).
    Text(String),
    /// `${NAME}` or `$NAME`.
    Reference {
        /// The variable's name.
        name: String,
        /// 1-based line of the reference in the template.
        line: usize,
    },
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Consumes a variable name (letters, digits, `_`) from `chars`.
fn take_name(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> String {
    let mut name = String::new();
    while let Some((_, c)) = chars.next_if(|&(_, c)| is_ident(c)) {
        name.push(c);
    }
    name
}

/// Splits `text` into literal text and references.
fn pieces(text: &str, name: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut found = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    let line_of = |idx: usize| text[..idx].matches('\n').count() + 1;
    while let Some((idx, c)) = chars.next() {
        if c != '$' {
            literal.push(c);
            continue;
        }
        let var = match chars.peek().map(|&(_, c)| c) {
            Some('$') => {
                // `$$` escapes: `$${X}` → `${X}`, `$$X` → `$X`.
                chars.next();
                literal.push('$');
                continue;
            }
            Some('{') => {
                chars.next();
                let var = take_name(&mut chars);
                let closed = chars.next_if(|&(_, c)| c == '}').is_some();
                if !closed || var.is_empty() || !var.starts_with(is_ident_start) {
                    let snippet: String = text[idx..]
                        .chars()
                        .take_while(|c| *c != '\n')
                        .take(24)
                        .collect();
                    return Err(TemplateError {
                        template: name.to_string(),
                        line: line_of(idx),
                        message: format!("{snippet:?}: ${{ must be followed by a variable name and }}; write $${{ for a literal ${{"),
                    });
                }
                var
            }
            Some(c) if is_ident_start(c) => take_name(&mut chars),
            _ => {
                literal.push('$');
                continue;
            }
        };
        found.push(Piece::Text(std::mem::take(&mut literal)));
        found.push(Piece::Reference {
            name: var,
            line: line_of(idx),
        });
    }
    found.push(Piece::Text(literal));
    Ok(found)
}

/// Substitutes `${VAR}` and `$VAR` in `text` with values from `lookup`.
///
/// `name` labels the template in errors; `format` says how values are
/// written (see [`TemplateKind`]).
pub(crate) fn render(
    text: &str,
    name: &str,
    format: TemplateKind,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let pieces = pieces(text, name)?;
    let mut values = Vec::new();
    for piece in &pieces {
        if let Piece::Reference { name: var, line } = piece {
            let value = lookup(var).ok_or_else(|| TemplateError {
                template: name.to_string(),
                line: *line,
                message: format!("variable {var} is not defined"),
            })?;
            values.push(value);
        }
    }
    match format {
        TemplateKind::Text => {
            let mut values = values.into_iter();
            Ok(pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.clone(),
                    Piece::Reference { .. } => values.next().unwrap_or_default(),
                })
                .collect())
        }
        TemplateKind::Yaml => YamlTemplate::new(&pieces, name)?.render(&values),
    }
}

/// Marks a reference in the skeleton: private-use characters, which are
/// plain text to YAML wherever they stand and which no template holds.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// One reference of a YAML template: where it stands in the skeleton (the
/// template with a marker for each reference) and the variable it names.
struct Slot {
    name: String,
    line: usize,
    /// Byte range of its marker in the skeleton.
    marker: Range<usize>,
}

/// A YAML template: its skeleton, the events YAML reads from it, and its
/// references.
struct YamlTemplate<'t> {
    template: &'t str,
    skeleton: String,
    events: Vec<(Read, Span)>,
    /// Where values can stand (scalars and comments): skeleton byte ranges,
    /// in order.
    places: Vec<(Range<usize>, Place)>,
    slots: Vec<Slot>,
}

/// Where a reference stands in the YAML, which says how its value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the scalar of this event (index into the events), of this style.
    Scalar(usize, ScalarStyle),
    /// In a comment.
    Comment,
    /// Anywhere else (a tag, an anchor, a directive).
    Elsewhere,
}

/// An event YAML reads, as far as the comparison of structures needs it.
#[derive(Debug, Clone, PartialEq)]
enum Read {
    /// A scalar: its text, its style, and its anchor and tag as written out.
    Scalar {
        value: String,
        style: ScalarStyle,
        properties: String,
    },
    /// A comment (its text may hold values).
    Comment,
    /// Any other event (documents, lists, maps, aliases), as written out.
    Other(String),
}

/// The events of `text` (comments included) with their spans, or the
/// parser's complaint and its line.
fn events(text: &str) -> Result<Vec<(Read, Span)>, (usize, String)> {
    let mut all = Vec::new();
    for result in Parser::new_from_str(text) {
        let (event, span) = result.map_err(|e| (e.marker().line(), e.info()))?;
        let read = match event {
            Event::Scalar(value, style, anchor, tag) => Read::Scalar {
                value: value.into_owned(),
                style,
                properties: format!("{anchor} {tag:?}"),
            },
            Event::Comment(..) => Read::Comment,
            other => Read::Other(format!("{other:?}")),
        };
        all.push((read, span));
    }
    Ok(all)
}

impl<'t> YamlTemplate<'t> {
    /// Builds the skeleton of a template split into `pieces` and reads it
    /// as YAML.
    fn new(pieces: &[Piece], template: &'t str) -> Result<YamlTemplate<'t>, TemplateError> {
        let mut skeleton = String::new();
        let mut slots = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    if let Some(c) = text.chars().find(|c| [MARK_OPEN, MARK_CLOSE].contains(c)) {
                        let at = skeleton.len() + text.find(c).unwrap_or_default();
                        return Err(TemplateError {
                            template: template.to_string(),
                            line: skeleton[..at.min(skeleton.len())].matches('\n').count() + 1,
                            message: format!(
                                "holds the character U+{:04X}, which wildrun uses to mark references",
                                u32::from(c)
                            ),
                        });
                    }
                    skeleton.push_str(text);
                }
                Piece::Reference { name, line } => {
                    let start = skeleton.len();
                    skeleton.push(MARK_OPEN);
                    skeleton.push_str(&slots.len().to_string());
                    skeleton.push(MARK_CLOSE);
                    slots.push(Slot {
                        name: name.clone(),
                        line: *line,
                        marker: start..skeleton.len(),
                    });
                }
            }
        }
        let events = events(&skeleton).map_err(|(line, info)| TemplateError {
            template: template.to_string(),
            line,
            message: format!(
                "the template is not YAML ({info}); a text that is not YAML is rendered with the option text: true"
            ),
        })?;
        let mut places: Vec<(Range<usize>, Place)> = events
            .iter()
            .enumerate()
            .filter_map(|(index, (read, span))| {
                let place = match read {
                    Read::Scalar { style, .. } => Place::Scalar(index, *style),
                    Read::Comment => Place::Comment,
                    Read::Other(_) => return None,
                };
                Some((span.byte_range()?, place))
            })
            .collect();
        places.sort_by_key(|(range, _)| range.start);
        Ok(YamlTemplate {
            template,
            skeleton,
            events,
            places,
            slots,
        })
    }

    fn error(&self, slot: &Slot, message: String) -> TemplateError {
        TemplateError {
            template: self.template.to_string(),
            line: slot.line,
            message: format!("variable {}: {message}", slot.name),
        }
    }

    /// Where the reference whose marker is at `marker` stands.
    fn place(&self, marker: &Range<usize>) -> Place {
        let after = self
            .places
            .partition_point(|(range, _)| range.start <= marker.start);
        after
            .checked_sub(1)
            .map(|i| &self.places[i])
            .filter(|(range, _)| marker.end <= range.end)
            .map_or(Place::Elsewhere, |(_, place)| *place)
    }

    /// The spaces that start the skeleton's line at byte `at`.
    fn indentation(&self, at: usize) -> &str {
        let start = self.skeleton[..at].rfind('\n').map_or(0, |i| i + 1);
        let line = &self.skeleton[start..];
        &line[..line.len() - line.trim_start_matches(' ').len()]
    }

    /// The skeleton with every marker in `range` replaced by its value.
    fn filled(&self, text: &str, values: &[String]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find(MARK_OPEN) {
            out.push_str(&rest[..open]);
            let after = &rest[open + MARK_OPEN.len_utf8()..];
            let close = after.find(MARK_CLOSE).unwrap_or(after.len());
            let value = after[..close]
                .parse::<usize>()
                .ok()
                .and_then(|i| values.get(i));
            out.push_str(value.map_or("", String::as_str));
            rest = after
                .get(close + MARK_CLOSE.len_utf8()..)
                .unwrap_or_default();
        }
        out.push_str(rest);
        out
    }

    /// The rendered text: each marker replaced by its value, written as its
    /// place needs; then checked to have the template's structure.
    fn render(&self, values: &[String]) -> Result<String, TemplateError> {
        // Replacements of skeleton byte ranges, in order.
        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        let mut requoted: Vec<usize> = Vec::new();
        for (slot, value) in self.slots.iter().zip(values) {
            let text = match self.place(&slot.marker) {
                Place::Scalar(_, ScalarStyle::DoubleQuoted) => escape_double_quoted(value),
                Place::Scalar(_, ScalarStyle::SingleQuoted) => {
                    if let Some(c) = value.chars().find(|c| c.is_control()) {
                        return Err(self.error(slot, format!(
                            "{} cannot stand in single quotes; write the reference in double quotes",
                            describe_char(c)
                        )));
                    }
                    value.replace('\'', "''")
                }
                Place::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded) => {
                    if let Some(c) = value.chars().find(|c| c.is_control() && !"\t\n\r".contains(*c)) {
                        return Err(self.error(slot, format!(
                            "{} cannot stand in a block scalar (| or >); write the reference in double quotes",
                            describe_char(c)
                        )));
                    }
                    indent_lines(value, self.indentation(slot.marker.start))
                }
                Place::Scalar(index, _) => {
                    if plain_safe(value) {
                        value.clone()
                    } else if !requoted.contains(&index) {
                        requoted.push(index);
                        continue;
                    } else {
                        continue;
                    }
                }
                Place::Comment => {
                    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
                        return Err(self.error(
                            slot,
                            format!("{} cannot stand in a comment", describe_char(c)),
                        ));
                    }
                    value.clone()
                }
                Place::Elsewhere => {
                    return Err(self.error(
                        slot,
                        "the reference stands outside a value (in a tag, an anchor or a directive); a YAML template takes values only in scalars and comments".into(),
                    ))
                }
            };
            edits.push((slot.marker.clone(), text));
        }
        // A plain scalar with a value it cannot hold unquoted becomes a
        // double-quoted one (the same text, as YAML reads it).
        for index in requoted {
            let (event, span) = &self.events[index];
            let (Read::Scalar { value: read, .. }, Some(range)) = (event, span.byte_range()) else {
                continue;
            };
            if self.skeleton[range.clone()].contains('\n') {
                let slot = self.slots_in(&range).next();
                return Err(match slot {
                    Some(slot) => self.error(slot, "the value cannot stand unquoted in a plain scalar of several lines; quote the scalar in the template".into()),
                    None => self.structure_error(None),
                });
            }
            edits.retain(|(r, _)| !(range.start <= r.start && r.end <= range.end));
            edits.push((
                range,
                format!("\"{}\"", escape_double_quoted(&self.filled(read, values))),
            ));
        }
        edits.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(self.skeleton.len());
        let mut at = 0;
        for (range, text) in &edits {
            out.push_str(&self.skeleton[at..range.start]);
            out.push_str(text);
            at = range.end;
        }
        out.push_str(&self.skeleton[at..]);
        self.check_structure(&out, values)?;
        Ok(out)
    }

    /// The references whose markers lie in the skeleton's `range`.
    fn slots_in<'s>(&'s self, range: &'s Range<usize>) -> impl Iterator<Item = &'s Slot> + 's {
        self.slots
            .iter()
            .filter(move |s| range.start <= s.marker.start && s.marker.end <= range.end)
    }

    /// The error for a rendered text whose structure differs from the
    /// template's, naming the reference nearest before where it does.
    fn structure_error(&self, at: Option<usize>) -> TemplateError {
        let slot = at
            .and_then(|at| self.slots.iter().rev().find(|s| s.marker.start <= at))
            .or(self.slots.first());
        let message = "its value would change the YAML's structure (its documents, lists, maps or other values)".to_string();
        match slot {
            Some(slot) => self.error(slot, message),
            None => TemplateError {
                template: self.template.to_string(),
                line: 1,
                message,
            },
        }
    }

    /// Reads `rendered` as YAML and checks that it is the template's
    /// structure with the values in their scalars: the same events in the
    /// same order, every scalar without a reference unchanged, and every
    /// quoted or plain scalar with references holding exactly its text
    /// with the values in place.
    fn check_structure(&self, rendered: &str, values: &[String]) -> Result<(), TemplateError> {
        let is_comment = |e: &&(Read, Span)| e.0 == Read::Comment;
        let theirs = events(rendered).map_err(|_| self.structure_error(None))?;
        let mut ours = self.events.iter().filter(|e| !is_comment(e));
        let mut got = theirs.iter().filter(|e| !is_comment(e));
        loop {
            let (expected, found) = match (ours.next(), got.next()) {
                (None, None) => return Ok(()),
                (Some(e), Some(f)) => (e, f),
                (e, _) => {
                    return Err(self.structure_error(
                        e.and_then(|(_, span)| span.byte_range()).map(|r| r.start),
                    ))
                }
            };
            let at = expected.1.byte_range().map(|r| r.start);
            let same = match (&expected.0, &found.0) {
                (
                    Read::Scalar {
                        value: v1,
                        style: s1,
                        properties: p1,
                    },
                    Read::Scalar {
                        value: v2,
                        style: s2,
                        properties: p2,
                    },
                ) => {
                    p1 == p2
                        && match s1 {
                            _ if !v1.contains(MARK_OPEN) => v1 == v2 && s1 == s2,
                            ScalarStyle::Literal | ScalarStyle::Folded => s1 == s2,
                            // A plain scalar may have been quoted.
                            _ => {
                                (s1 == s2
                                    || (*s1 == ScalarStyle::Plain
                                        && *s2 == ScalarStyle::DoubleQuoted))
                                    && *v2 == self.filled(v1, values)
                            }
                        }
                }
                (e, f) => e == f,
            };
            if !same {
                return Err(self.structure_error(at));
            }
        }
    }
}

/// Whether `value` can stand as it is in a plain (unquoted) scalar and be
/// read as the same text: letters, digits and `-._/+~`, not empty and not
/// starting as a YAML indicator would. Numbers, `true`, `false` and `null` are among these,
/// so they keep their type, as envsubst would give them; anything else is
/// quoted, which for text gives the same string.
fn plain_safe(value: &str) -> bool {
    let allowed = |c: char| c.is_alphanumeric() || "-._/+~".contains(c);
    let mut chars = value.chars();
    let starts_well = match (chars.next(), chars.next()) {
        // Empty is null unquoted, and nothing at all in a flow list.
        (None, _) => false,
        (Some('-' | '.'), Some(second)) => second.is_ascii_alphanumeric() || second == '.',
        (Some('-' | '.'), None) => false,
        (Some(first), _) => first.is_alphanumeric() || "_/+~".contains(first),
    };
    starts_well && !value.starts_with("..") && value.chars().all(allowed)
}

/// `value` as the inside of a double-quoted YAML scalar: `"` and `\`
/// escaped, line breaks and other control characters written as escapes,
/// so it can neither end the scalar nor start a line. Spaces at its ends
/// are escaped too: where a quoted scalar continues on a new line, YAML
/// drops the spaces around the line break.
fn escape_double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let inner = value.trim_matches(' ');
    let lead = value.len() - value.trim_start_matches(' ').len();
    let trail = if inner.is_empty() {
        0
    } else {
        value.len() - value.trim_end_matches(' ').len()
    };
    out.push_str(&"\\x20".repeat(lead));
    for c in inner.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}') => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push_str(&"\\x20".repeat(trail));
    out
}

/// `value` as the lines of a block scalar whose reference stands on a line
/// starting with `indentation`: each further line is indented as that one,
/// so no line of the value can end the block.
fn indent_lines(value: &str, indentation: &str) -> String {
    let value = value.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(value.len());
    let mut lines = value.split('\n').peekable();
    while let Some(line) = lines.next() {
        out.push_str(line);
        if let Some(next) = lines.peek() {
            out.push('\n');
            // An empty line needs no indentation; a line that follows does.
            if !next.is_empty() || lines.clone().nth(1).is_none() {
                out.push_str(indentation);
            }
        }
    }
    out
}

/// A character for a message: a line break in words, others as U+XXXX.
fn describe_char(c: char) -> String {
    match c {
        '\n' | '\r' => "a line break".to_string(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "NAME" => Some("web".into()),
            "PORT" => Some("80".into()),
            _ => None,
        }
    }

    fn text(template: &str) -> Result<String, TemplateError> {
        render(template, "t", TemplateKind::Text, &vars)
    }

    #[test]
    fn substitutes_both_forms() {
        assert_eq!(text("${NAME}:$PORT/x").unwrap(), "web:80/x");
        assert_eq!(text("a-$NAME-b").unwrap(), "a-web-b");
    }

    #[test]
    fn escapes_and_lone_dollars() {
        assert_eq!(text("$${NAME} $$NAME $ 5$").unwrap(), "${NAME} $NAME $ 5$");
    }

    #[test]
    fn undefined_variable_names_line() {
        let err = render(
            "a: 1\nb: ${NAME}\nc: ${MISSING}\n",
            "svc.yaml",
            TemplateKind::Yaml,
            &vars,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "svc.yaml:3: variable MISSING is not defined"
        );
        let err = text("x $OTHER").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn malformed_references() {
        for bad in ["${NAME", "${1X}", "${}", "a \"${\" b}"] {
            let e = text(bad).unwrap_err();
            assert!(
                e.message.contains("must be followed by a variable name"),
                "{bad}: {e}"
            );
        }
        let e = text("x: \"${\"\ny: ${NAME}\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            !e.message.contains("y:"),
            "the snippet stays on its line: {e}"
        );
    }

    #[test]
    fn a_malformed_reference_reads_template_line_and_the_fix() {
        let err = render(
            "a: 1\nb: ${1X}\n",
            "svc.yaml.tmpl",
            TemplateKind::Yaml,
            &vars,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "svc.yaml.tmpl:2: \"${1X}\": ${ must be followed by a variable name and }; write $${ for a literal ${"
        );
    }

    /// Renders `template` as YAML with the one variable `V` = `value`.
    fn yaml(template: &str, value: &str) -> Result<String, TemplateError> {
        render(template, "t.yaml", TemplateKind::Yaml, &|name| {
            (name == "V").then(|| value.to_string())
        })
    }

    /// The documents YAML reads from `text`.
    fn read(text: &str) -> Vec<serde_json::Value> {
        crate::yaml::parse_documents(text, "rendered").unwrap()
    }

    /// What the probe sent: a quote, a line break, `---` and a whole
    /// ClusterRoleBinding of `default` to `cluster-admin`.
    const INJECTION: &str = "x\"\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: default}]\n# \"";

    #[test]
    fn in_double_quotes_a_value_is_escaped_and_stays_one_string() {
        for value in [
            INJECTION,
            "a\\b \"c\" \t\u{7}\u{2028}",
            "line\nbreak",
            "",
            " padded ",
        ] {
            let out = yaml(
                "data:\n  greeting: \"${V}\"\n  other: \"a ${V} b\"\n",
                value,
            )
            .unwrap();
            let docs = read(&out);
            assert_eq!(docs.len(), 1, "{out}");
            assert_eq!(docs[0]["data"]["greeting"], value, "{out}");
            assert_eq!(docs[0]["data"]["other"], format!("a {value} b"), "{out}");
        }
        // A quoted scalar over two lines: the spaces that start the value stay.
        let out = yaml("a: \"x\n  ${V} y\"\n", "  lead").unwrap();
        assert_eq!(read(&out)[0]["a"], "x   lead y", "{out}");
    }

    #[test]
    fn in_single_quotes_a_quote_is_doubled_and_a_line_break_refused() {
        let out = yaml("greeting: 'it${V}'\n", "'s \"fine\"").unwrap();
        assert_eq!(read(&out)[0]["greeting"], "it's \"fine\"");
        let err = yaml("a: 1\ngreeting: '${V}'\n", INJECTION).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.yaml:2: variable V: a line break cannot stand in single quotes; write the reference in double quotes"
        );
    }

    #[test]
    fn in_a_block_scalar_each_line_is_indented_as_the_reference() {
        for style in ["|", "|-", ">", "|+"] {
            let template =
                format!("data:\n  script: {style}\n    set -e\n    ${{V}}\n  after: 1\n");
            let out = yaml(&template, INJECTION).unwrap();
            let docs = read(&out);
            assert_eq!(docs.len(), 1, "{out}");
            assert_eq!(docs[0]["data"]["after"], 1, "{out}");
            let map = docs[0]["data"].as_object().unwrap();
            assert_eq!(map.len(), 2, "{out}");
            if style.starts_with('|') {
                let script = docs[0]["data"]["script"].as_str().unwrap();
                assert!(
                    script.starts_with(&format!("set -e\n{INJECTION}")),
                    "{script:?}"
                );
            }
        }
        let out = yaml("s: |\n  a\n  ${V}\n  b\n", "one\n\ntwo\n").unwrap();
        assert_eq!(read(&out)[0]["s"], "a\none\n\ntwo\n\nb\n");
        let err = yaml("s: |\n  ${V}\n", "bell\u{7}").unwrap_err();
        assert!(
            err.message
                .contains("U+0007 cannot stand in a block scalar"),
            "{err}"
        );
    }

    #[test]
    fn unquoted_a_plain_value_keeps_its_type_and_anything_else_is_quoted() {
        let template = "replicas: ${V}\nname: ${V}-settings\nlist: [${V}, b]\n";
        for (value, read_as) in [
            ("3", serde_json::json!(3)),
            ("-5", serde_json::json!(-5)),
            ("true", serde_json::json!(true)),
            ("web", serde_json::json!("web")),
        ] {
            let doc = &read(&yaml(template, value).unwrap())[0];
            assert_eq!(doc["replicas"], read_as);
            assert_eq!(doc["name"], format!("{value}-settings"));
            assert_eq!(doc["list"][0], read_as);
        }
        for value in [
            INJECTION,
            "a: b",
            "x # comment",
            "*alias",
            "- item",
            "[1, 2]",
            "{a: 1}",
            "---",
            "...",
            "",
            " padded ",
        ] {
            let out = yaml(template, value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            let docs = read(&out);
            assert_eq!(docs.len(), 1, "{value:?}: {out}");
            let doc = &docs[0];
            assert_eq!(doc.as_object().unwrap().len(), 3, "{value:?}: {out}");
            assert_eq!(doc["replicas"], value, "{out}");
            assert_eq!(doc["list"][0], value, "{out}");
            assert_eq!(doc["name"], format!("{value}-settings"), "{out}");
            assert_eq!(doc["list"][1], "b", "{out}");
        }
    }

    #[test]
    fn a_key_is_a_scalar_too() {
        let out = yaml("labels:\n  ${V}: yes\n  other: x\n", "a: b\nc").unwrap();
        let doc = &read(&out)[0];
        assert_eq!(doc["labels"]["a: b\nc"], "yes", "{out}");
        assert_eq!(doc["labels"].as_object().unwrap().len(), 2, "{out}");
    }

    #[test]
    fn in_a_comment_a_line_break_is_refused() {
        assert_eq!(
            yaml("a: 1 # for ${V}\n", "web").unwrap(),
            "a: 1 # for web\n"
        );
        let err = yaml("a: 1 # for ${V}\n", INJECTION).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.yaml:1: variable V: a line break cannot stand in a comment"
        );
    }

    #[test]
    fn a_multi_line_plain_scalar_takes_only_plain_values() {
        assert!(yaml("a: one\n  ${V} two\n", "web").is_ok());
        let err = yaml("a: one\n  ${V} two\n", "x: y").unwrap_err();
        assert!(
            err.message.starts_with(
                "variable V: the value cannot stand unquoted in a plain scalar of several lines"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_reference_in_a_tag_or_anchor_is_refused() {
        let err = yaml("a: &${V} 1\n", "x").unwrap_err();
        assert!(err.message.contains("outside a value"), "{err}");
    }

    #[test]
    fn a_template_that_is_not_yaml_says_how_to_render_text() {
        let err = yaml("a: [1\nb: ${V}\n", "x").unwrap_err();
        assert!(
            err.message.starts_with("the template is not YAML ("),
            "{err}"
        );
        assert!(
            err.message.ends_with("rendered with the option text: true"),
            "{err}"
        );
        // As text, the same is written as it is.
        let out = render(
            "server { listen ${V}: x; }",
            "nginx.conf",
            TemplateKind::Text,
            &|_| Some("a\"\n---".into()),
        )
        .unwrap();
        assert_eq!(out, "server { listen a\"\n---: x; }");
    }

    #[test]
    fn a_value_is_never_taken_for_structure_anywhere() {
        // Every place at once, with values that would break out of each.
        let template = "\
# ${V}
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${V}-x
  labels: {app: ${V}}
data:
  plain: ${V}
  double: \"${V}\"
  single: '${V}'
  block: |
    ${V}
  list:
    - ${V}
";
        for value in [
            "x",
            "x\"",
            "x'",
            "x\n---\nkind: Secret",
            "}, evil: {",
            "]",
            "\\",
            "#",
            "&a",
            "!!binary",
            ":",
        ] {
            match yaml(template, value) {
                Ok(out) => {
                    let docs = read(&out);
                    assert_eq!(docs.len(), 1, "{value:?}: {out}");
                    assert_eq!(docs[0]["kind"], "ConfigMap", "{value:?}: {out}");
                    let data = docs[0]["data"].as_object().unwrap();
                    assert_eq!(data.len(), 5, "{value:?}: {out}");
                    for key in ["plain", "double"] {
                        assert_eq!(data[key], value, "{key} {value:?}: {out}");
                    }
                }
                Err(e) => assert!(e.message.starts_with("variable V: "), "{value:?}: {e}"),
            }
        }
    }
}
