//! How `--wait` shows its progress on stderr: a spinner on a terminal, one
//! line per change otherwise. The wait ([`crate::reach`]) only says what
//! changed, through [`WaitDisplay`]; drawing is the command line's.

use crate::reach::{WaitDisplay, WaitEvent};
use std::io::Write;

/// The frames of the spinner.
const FRAMES: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// `--wait`'s progress on stderr: on a terminal, the link waited on and
/// its reason on one line redrawn under a spinner; elsewhere, a log line
/// per change.
pub(crate) struct Spinner {
    terminal: bool,
    frame: usize,
    line: String,
}

impl Spinner {
    /// The display for this process's stderr.
    pub(crate) fn on_stderr() -> Box<dyn WaitDisplay> {
        Box::new(Spinner {
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            frame: 0,
            line: String::new(),
        })
    }
}

impl WaitDisplay for Spinner {
    fn show(&mut self, event: &WaitEvent) {
        match event {
            WaitEvent::Waiting { link, reason } => {
                let text = format!("waiting for {link}: {reason}");
                if self.terminal {
                    self.line = text;
                    self.tick();
                } else {
                    tracing::info!("{text}");
                }
            }
            WaitEvent::Holds { link, note, after } => {
                self.clear();
                tracing::info!("✓ {link}: {note} ({:.1}s)", after.as_secs_f64());
            }
            WaitEvent::Done { after } => {
                self.clear();
                tracing::info!(
                    "the service answers ({:.1}s after applying)",
                    after.as_secs_f64()
                );
            }
        }
    }

    fn tick(&mut self) {
        if self.terminal && !self.line.is_empty() {
            self.frame = (self.frame + 1) % FRAMES.len();
            eprint!("\r\x1b[2K{} {}", FRAMES[self.frame], self.line);
            let _ = std::io::stderr().flush();
        }
    }

    fn clear(&mut self) {
        if self.terminal && !self.line.is_empty() {
            eprint!("\r\x1b[2K");
            self.line.clear();
        }
    }
}
