//! Traefik's router rules (`match` of an IngressRoute): read, and asked
//! whether a request to a host and path would match.
//!
//! `Host`, `HostRegexp`, `Path`, `PathPrefix` and `PathRegexp` are
//! decided; the matchers that look at what a browser sends besides host and
//! path (`Header`, `Method`, `Query`, `ClientIP`, ...) cannot be, and count
//! as a possible match. `&&`, `||`, `!` and parentheses combine them. Both
//! syntaxes are read: Traefik v2's (`Host(`a`, `b`)`, `HostRegexp(`{sub:[a-z]+}.example.com`)`)
//! and v3's (one host, Go regular expressions).

use regex::Regex;

/// Why a rule cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RuleError {
    /// The text stops or goes on where it should not.
    #[error("cannot read the rule {rule:?} at character {at}: {expected}")]
    Syntax {
        /// The rule.
        rule: String,
        /// 0-based character index.
        at: usize,
        /// What should have been there.
        expected: String,
    },
    /// A regular expression of `HostRegexp` or `PathRegexp` is invalid.
    #[error("the rule {rule:?} has an invalid regular expression {pattern:?}: {reason}")]
    Regex {
        /// The rule.
        rule: String,
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
}

/// A rule, read.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// `Host(...)`: one of these hosts (case-insensitive).
    Host(Vec<String>),
    /// `HostRegexp(...)`: a host one of these matches.
    HostRegexp(Vec<Regex>),
    /// `Path(...)`: exactly one of these paths.
    Path(Vec<String>),
    /// `PathPrefix(...)`: a path starting with one of these.
    PathPrefix(Vec<String>),
    /// `PathRegexp(...)`: a path one of these matches.
    PathRegexp(Vec<Regex>),
    /// A matcher on what else a request carries: cannot be decided here.
    Other,
    /// Both.
    And(Box<Rule>, Box<Rule>),
    /// Either.
    Or(Box<Rule>, Box<Rule>),
    /// Not.
    Not(Box<Rule>),
}

impl Rule {
    /// Reads a rule.
    pub(crate) fn parse(text: &str) -> Result<Rule, RuleError> {
        let mut parser = Parser {
            text,
            chars: text.char_indices().collect(),
            at: 0,
        };
        let rule = parser.or()?;
        parser.skip_space();
        if parser.at < parser.chars.len() {
            return Err(parser.error("&&, || or the end"));
        }
        Ok(rule)
    }

    /// Whether a request to `host` and `path` matches: `Some(true)` or
    /// `Some(false)`, or `None` when it depends on what else it carries.
    pub(crate) fn decide(&self, host: &str, path: &str) -> Option<bool> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Rule::Host(hosts) => Some(hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))),
            Rule::HostRegexp(res) => Some(res.iter().any(|r| r.is_match(&host))),
            Rule::Path(paths) => Some(paths.iter().any(|p| p == path)),
            Rule::PathPrefix(prefixes) => {
                Some(prefixes.iter().any(|p| path.starts_with(p.as_str())))
            }
            Rule::PathRegexp(res) => Some(res.iter().any(|r| r.is_match(path))),
            Rule::Other => None,
            Rule::And(a, b) => match (a.decide(&host, path), b.decide(&host, path)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Rule::Or(a, b) => match (a.decide(&host, path), b.decide(&host, path)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Rule::Not(a) => a.decide(&host, path).map(|m| !m),
        }
    }

    /// The hosts the rule names in its `Host(...)` matchers (outside a
    /// `!`), in order, and the first path it names (`Path`, `PathPrefix`),
    /// for asking it: what `doctor --instance` checks of an IngressRoute.
    pub(crate) fn hosts_and_path(&self) -> (Vec<String>, Option<String>) {
        match self {
            Rule::Host(hosts) => (hosts.clone(), None),
            Rule::Path(paths) | Rule::PathPrefix(paths) => (Vec::new(), paths.first().cloned()),
            Rule::And(a, b) | Rule::Or(a, b) => {
                let (mut hosts, path) = a.hosts_and_path();
                let (more, other) = b.hosts_and_path();
                hosts.extend(more);
                (hosts, path.or(other))
            }
            Rule::HostRegexp(_) | Rule::PathRegexp(_) | Rule::Other | Rule::Not(_) => {
                (Vec::new(), None)
            }
        }
    }

    /// Whether a request to `host` and `path` may match (a matcher that
    /// cannot be decided here counts as matching).
    pub(crate) fn may_match(&self, host: &str, path: &str) -> bool {
        self.decide(host, path) != Some(false)
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &str) -> RuleError {
        RuleError::Syntax {
            rule: self.text.to_string(),
            at: self.at,
            expected: expected.to_string(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|(_, c)| *c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        let n = token.chars().count();
        let next: String = self
            .chars
            .iter()
            .skip(self.at)
            .take(n)
            .map(|(_, c)| c)
            .collect();
        if next == token {
            self.at += n;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Rule, RuleError> {
        let mut rule = self.and()?;
        while self.eat("||") {
            rule = Rule::Or(Box::new(rule), Box::new(self.and()?));
        }
        Ok(rule)
    }

    fn and(&mut self) -> Result<Rule, RuleError> {
        let mut rule = self.unary()?;
        while self.eat("&&") {
            rule = Rule::And(Box::new(rule), Box::new(self.unary()?));
        }
        Ok(rule)
    }

    fn unary(&mut self) -> Result<Rule, RuleError> {
        if self.eat("!") {
            return Ok(Rule::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let rule = self.or()?;
            if !self.eat(")") {
                return Err(self.error(")"));
            }
            return Ok(rule);
        }
        self.matcher()
    }

    fn matcher(&mut self) -> Result<Rule, RuleError> {
        self.skip_space();
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("a matcher such as Host(`example.com`)"));
        }
        let name: String = self.chars[start..self.at].iter().map(|(_, c)| c).collect();
        if !self.eat("(") {
            return Err(self.error("("));
        }
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.string()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.error(", or )"));
                }
            }
        }
        let regexes = |args: &[String], host: bool| -> Result<Vec<Regex>, RuleError> {
            args.iter()
                .map(|a| {
                    let pattern = if host { host_pattern(a) } else { a.clone() };
                    Regex::new(&pattern).map_err(|e| RuleError::Regex {
                        rule: self.text.to_string(),
                        pattern: a.clone(),
                        reason: e.to_string(),
                    })
                })
                .collect()
        };
        Ok(match name.as_str() {
            "Host" => Rule::Host(args),
            "HostRegexp" => Rule::HostRegexp(regexes(&args, true)?),
            "Path" => Rule::Path(args),
            "PathPrefix" => Rule::PathPrefix(args),
            "PathRegexp" => Rule::PathRegexp(regexes(&args, false)?),
            _ => Rule::Other,
        })
    }

    fn string(&mut self) -> Result<String, RuleError> {
        self.skip_space();
        let Some(quote) = self.peek().filter(|c| *c == '`' || *c == '"') else {
            return Err(self.error("a string in backquotes"));
        };
        self.at += 1;
        let start = self.at;
        while self.peek().is_some_and(|c| c != quote) {
            self.at += 1;
        }
        if self.peek().is_none() {
            return Err(self.error(&format!("the closing {quote}")));
        }
        let text: String = self.chars[start..self.at].iter().map(|(_, c)| c).collect();
        self.at += 1;
        Ok(text)
    }
}

/// A `HostRegexp` argument as a regular expression over the whole host:
/// Traefik v2's `{name:re}` and `{name}` (one label) parts become groups,
/// the dots between them literal.
fn host_pattern(arg: &str) -> String {
    if !arg.contains('{') {
        // v3: a Go regular expression, matched anywhere unless anchored.
        return format!("(?i){arg}");
    }
    let mut out = String::from("(?i)^");
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&regex::escape(&rest[..open]));
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&regex::escape(&rest[open..]));
            rest = "";
            break;
        };
        let inner = &rest[open + 1..open + close];
        match inner.split_once(':') {
            Some((_, re)) => out.push_str(&format!("(?:{re})")),
            None => out.push_str("[^.]+"),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(&regex::escape(rest));
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(rule: &str, host: &str, path: &str) -> bool {
        Rule::parse(rule).unwrap().may_match(host, path)
    }

    #[test]
    fn the_hosts_and_path_a_rule_names() {
        let rule =
            Rule::parse("(Host(`a.example.com`, `b.example.com`) || Host(`c.example.com`)) && PathPrefix(`/api`) && !Host(`d.example.com`)")
                .unwrap();
        assert_eq!(
            rule.hosts_and_path(),
            (
                vec![
                    "a.example.com".to_string(),
                    "b.example.com".into(),
                    "c.example.com".into()
                ],
                Some("/api".to_string())
            )
        );
        assert_eq!(
            Rule::parse("HostRegexp(`.+`)").unwrap().hosts_and_path(),
            (Vec::new(), None)
        );
    }

    #[test]
    fn hosts_and_paths() {
        assert!(matches("Host(`a.example.com`)", "A.example.com", "/"));
        assert!(!matches("Host(`a.example.com`)", "b.example.com", "/"));
        assert!(matches(
            "Host(`a.example.com`, `b.example.com`)",
            "b.example.com",
            "/x"
        ));
        assert!(matches(
            "Host(\"a.example.com\") && PathPrefix(`/api`)",
            "a.example.com",
            "/api/v1"
        ));
        assert!(!matches(
            "Host(`a.example.com`) && PathPrefix(`/api`)",
            "a.example.com",
            "/"
        ));
        assert!(matches(
            "Host(`a.example.com`) && Path(`/`)",
            "a.example.com",
            "/"
        ));
        assert!(!matches(
            "Host(`a.example.com`) && Path(`/`)",
            "a.example.com",
            "/x"
        ));
        assert!(matches(
            "Host(`x.com`) || (Host(`a.example.com`) && !PathPrefix(`/admin`))",
            "a.example.com",
            "/"
        ));
        assert!(!matches(
            "Host(`x.com`) || (Host(`a.example.com`) && !PathPrefix(`/admin`))",
            "a.example.com",
            "/admin"
        ));
        assert!(matches(
            "PathRegexp(`^/v[0-9]+/`)",
            "any.example.com",
            "/v2/x"
        ));
    }

    #[test]
    fn host_regexps_in_both_syntaxes() {
        assert!(matches(
            "HostRegexp(`^[a-z]+\\.example\\.com$`)",
            "git.example.com",
            "/"
        ));
        assert!(!matches(
            "HostRegexp(`^[a-z]+\\.example\\.com$`)",
            "a.b.example.com",
            "/"
        ));
        assert!(matches(
            "HostRegexp(`{sub:[a-z]+}.example.com`)",
            "git.example.com",
            "/"
        ));
        assert!(matches(
            "HostRegexp(`{sub}.example.com`)",
            "git.example.com",
            "/"
        ));
        assert!(!matches(
            "HostRegexp(`{sub}.example.com`)",
            "gitXexample.com",
            "/"
        ));
    }

    #[test]
    fn what_cannot_be_decided_may_match() {
        let rule = Rule::parse("Host(`a.example.com`) && Header(`X-Test`, `1`)").unwrap();
        assert_eq!(rule.decide("a.example.com", "/"), None);
        assert!(rule.may_match("a.example.com", "/"));
        assert_eq!(rule.decide("b.example.com", "/"), Some(false));
        let not = Rule::parse("!Method(`POST`)").unwrap();
        assert!(not.may_match("a.example.com", "/"));
    }

    #[test]
    fn bad_rules_say_where() {
        let err = Rule::parse("Host(`a.example.com`").unwrap_err();
        assert!(err.to_string().contains("at character 20: , or )"), "{err}");
        assert!(Rule::parse("Host(`a`) &&").is_err());
        assert!(Rule::parse("Host(a)").is_err());
        let err = Rule::parse("HostRegexp(`(`)").unwrap_err();
        assert!(matches!(err, RuleError::Regex { .. }), "{err}");
    }
}
