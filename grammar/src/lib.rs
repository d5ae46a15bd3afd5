//! The syntax of mido: tokens ([`lexer`]), the grammar (lalrpop) and the
//! untyped [`ast`] with byte spans.
//!
//! Architecture invariant: this crate knows no semantics. It does not resolve
//! names, check types or know which functions exist; it only says whether the
//! text is well formed, and where it is not.

#![deny(clippy::unwrap_used)]

pub mod ast;
pub mod lexer;

use lalrpop_util::lalrpop_mod;
use lexer::{LexError, LexErrorKind, Lexer, Tok};

lalrpop_mod!(
    #[allow(clippy::all, clippy::unwrap_used, unused_parens)]
    parser,
    "/mido.rs"
);

/// A byte range in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// What is wrong with the text at a span.
#[derive(Debug, Clone, PartialEq)]
pub enum SyntaxErrorKind {
    InvalidCharacter,
    /// `#` written to start a comment.
    HashComment,
    UnterminatedComment,
    UnterminatedString,
    /// A token the grammar does not allow here; `expected` lists what would be.
    UnexpectedToken {
        found: String,
        expected: Vec<String>,
    },
    /// The file ends where more is needed.
    UnexpectedEof {
        expected: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub kind: SyntaxErrorKind,
    pub span: Span,
}

/// Parses a model file. Returns the tree (with `Error` nodes where the parser
/// recovered) and every syntax error found; the tree is `None` only when the
/// file does not even start like a model.
pub fn parse(src: &str) -> (Option<ast::File>, Vec<SyntaxError>) {
    parse_with(src, Lexer::new(src), |recovered, lexer| {
        parser::FileParser::new().parse(recovered, lexer)
    })
}

/// Parses a scenario file (`scenario NAME { ... }`), with the scenario
/// keywords; errors and recovery as for [`parse`].
pub fn parse_scenario(src: &str) -> (Option<ast::scenario::ScenarioFile>, Vec<SyntaxError>) {
    parse_with(src, Lexer::scenario(src), |recovered, lexer| {
        parser::ScenarioFileParser::new().parse(recovered, lexer)
    })
}

type Recovered<'a> = Vec<lalrpop_util::ErrorRecovery<usize, Tok<'a>, ()>>;

/// Runs a generated parser over `lexer` and collects lexical, recovered and
/// fatal errors into one sorted list without echoes.
fn parse_with<'a, T>(
    src: &'a str,
    mut lexer: Lexer<'a>,
    run: impl FnOnce(&mut Recovered<'a>, &mut Lexer<'a>) -> Result<T, LalrpopError<'a>>,
) -> (Option<T>, Vec<SyntaxError>) {
    let mut recovered = Vec::new();
    let result = run(&mut recovered, &mut lexer);
    let lex_errors: Vec<SyntaxError> = lexer
        .into_errors()
        .into_iter()
        .map(from_lex_error)
        .collect();
    let mut parse_errors: Vec<(SyntaxError, Option<usize>)> = recovered
        .into_iter()
        .filter_map(|r| {
            let resume = r.dropped_tokens.last().map(|(_, _, end)| *end);
            from_parse_error(r.error, src.len()).map(|e| (e, resume))
        })
        .collect();
    let tree = match result {
        Ok(tree) => Some(tree),
        Err(e) => {
            parse_errors.extend(from_parse_error(e, src.len()).map(|e| (e, None)));
            None
        }
    };
    // An unterminated string swallows the rest of the file: what the parser
    // says after it is about text it never saw as code.
    if let Some(cut) = lex_errors
        .iter()
        .find(|e| e.kind == SyntaxErrorKind::UnterminatedString)
        .map(|e| e.span.start)
    {
        parse_errors.retain(|(e, _)| e.span.end < cut);
    }
    let mut errors = suppress_cascades(src, parse_errors, &lex_errors);
    errors.extend(lex_errors);
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    (tree, errors)
}

/// Drops syntax errors that are echoes of an earlier one. After an error
/// the parser resumes at the next token that can start a statement; when
/// that token sits in the middle of the broken line, the "statement" it
/// starts is a fragment, and an error on that line or the next is its echo.
/// A parse error on the line of a lexical error is an echo of that too.
fn suppress_cascades(
    src: &str,
    errors: Vec<(SyntaxError, Option<usize>)>,
    lex_errors: &[SyntaxError],
) -> Vec<SyntaxError> {
    let line_of = |pos: usize| src[..pos.min(src.len())].matches('\n').count();
    let lex_lines: Vec<usize> = lex_errors.iter().map(|e| line_of(e.span.start)).collect();
    let mut kept: Vec<SyntaxError> = Vec::new();
    // The last line an echo may appear on.
    let mut echo_until: Option<usize> = None;
    for (e, resume) in errors {
        let line = line_of(e.span.start);
        let echo = echo_until.is_some_and(|until| line <= until) || lex_lines.contains(&line);
        if !echo {
            kept.push(e);
        }
        let resumed_mid_line = resume
            .and_then(|r| src.get(r..))
            .map(|rest| rest.trim_start_matches([' ', '\t']))
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['\n', '\r', '/']));
        let until = if resumed_mid_line { line + 1 } else { line };
        echo_until = Some(echo_until.map_or(until, |u| u.max(until)));
    }
    kept
}

fn from_lex_error(e: LexError) -> SyntaxError {
    let kind = match e.kind {
        LexErrorKind::InvalidCharacter => SyntaxErrorKind::InvalidCharacter,
        LexErrorKind::HashComment => SyntaxErrorKind::HashComment,
        LexErrorKind::UnterminatedComment => SyntaxErrorKind::UnterminatedComment,
        LexErrorKind::UnterminatedString => SyntaxErrorKind::UnterminatedString,
    };
    SyntaxError { kind, span: e.span }
}

type LalrpopError<'a> = lalrpop_util::ParseError<usize, Tok<'a>, ()>;

fn from_parse_error(e: LalrpopError<'_>, eof: usize) -> Option<SyntaxError> {
    use lalrpop_util::ParseError as P;
    match e {
        P::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => Some(SyntaxError {
            kind: SyntaxErrorKind::UnexpectedToken {
                found: tok.describe(),
                expected: tidy_expected(expected),
            },
            span: Span::new(l, r),
        }),
        P::UnrecognizedEof { location, expected } => Some(SyntaxError {
            kind: SyntaxErrorKind::UnexpectedEof {
                expected: tidy_expected(expected),
            },
            span: Span::new(location.min(eof), location.min(eof)),
        }),
        P::ExtraToken { token: (l, tok, r) } => Some(SyntaxError {
            kind: SyntaxErrorKind::UnexpectedToken {
                found: tok.describe(),
                expected: vec![],
            },
            span: Span::new(l, r),
        }),
        // The lexer reports its own errors and never hands one to the parser.
        P::InvalidToken { .. } | P::User { .. } => None,
    }
}

/// lalrpop names terminals as they are written in the grammar (`"\"=\""`);
/// turn them into what a modeler reads (`` `=` ``, `a name`).
fn tidy_expected(expected: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = expected
        .into_iter()
        .filter_map(|t| {
            let bare = t.trim_matches('"').replace("\\\"", "\"");
            match bare.as_str() {
                "ident" => Some("a name".to_string()),
                "number" => Some("a number".to_string()),
                "string" => Some("a string".to_string()),
                "/*" | "#" | "unterminated string" => None,
                other => Some(format!("`{other}`")),
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_model() {
        let src = r#"model m "doc"
            fixed { k = 0.1 in (0, ) [1/h] }
            compartments { c [mg] dose }
            dynamics { d/dt(c) = -k * c }
            observe { cp [mg/L] = c / 2 [L]  DV ~ normal(cp, 0.1) }"#;
        let (file, errors) = parse(src);
        assert!(errors.is_empty(), "{errors:?}");
        let file = file.expect("a tree");
        assert_eq!(file.name.text, "m");
        assert_eq!(file.items.len(), 4);
    }

    #[test]
    fn power_binds_tighter_than_negation_and_is_right_associative() {
        let (file, errors) = parse("model m individual { a = -2^3^2 }");
        assert!(errors.is_empty());
        let file = file.expect("a tree");
        let ast::Item::Individual(b) = &file.items[0] else {
            panic!("not individual")
        };
        let ast::Stmt::Assign { value, .. } = &b.entries[0] else {
            panic!("not an assignment")
        };
        let ast::ExprKind::Unary(ast::UnaryOp::Neg, inner) = &value.kind else {
            panic!("negation is not outermost: {value:?}")
        };
        let ast::ExprKind::Binary(ast::BinaryOp::Pow, _, rhs) = &inner.kind else {
            panic!("no power")
        };
        assert!(matches!(
            rhs.kind,
            ast::ExprKind::Binary(ast::BinaryOp::Pow, _, _)
        ));
    }

    #[test]
    fn parses_a_scenario_with_every_kind_of_item() {
        let src = r#"scenario s "doc" {
            model = "m.mido"
            uncertainty = covariance 200
            variability = subject, residual
            population adults 100 {
                WT ~ lognormal(median = 70, cv = 0.2) within (40, 150)
                SEX ~ categorical(male = 0.5, female = 0.5)
                correlation(WT, AGE) = 0.3
                subgroup "light" when WT < 50
            }
            population observed from "data.csv"
            regimen "load" {
                dose 10 [mg] into depot
                dose 5 [mg] every 24 [h] for 27 [d]
                then 7.5 [mg] for 4 doses
                cycle 28 [d] repeat 2 { dose 100 [mg] over 1 [h] every 24 [h] for 21 [d] }
                when cp(trough) > 3 [mg/L] reduce by 2.5 [mg]
            }
            metrics {
                cmax = max(cp) over last interval
                early = auc(cp) over 0 [h] to 24 [h]
            }
            targets {
                efficacy: cmax >= 1 [mg/L] in at least 90%
                safety low_peak: cmax <= 8 in at least 0.95
            }
            compare cmax to "light"
            optimize { regimen = "load" doses = 1 [mg] to 20 [mg] }
        }"#;
        let (file, errors) = parse_scenario(src);
        assert!(errors.is_empty(), "{errors:?}");
        let file = file.expect("a tree");
        assert_eq!(file.items.len(), 10);
        let ast::scenario::ScenarioItem::Regimen(r) = &file.items[5] else {
            panic!("not a regimen: {:?}", file.items[5])
        };
        assert_eq!(r.name.text, "load");
        assert_eq!(r.entries.len(), 5);
    }

    #[test]
    fn scenario_errors_are_collected_per_entry() {
        let src = "scenario s {\n regimen r {\n dose = 5\n dose 5 [mg] every 24 [h]\n }\n metrics {\n a = max(cp) over\n b = min(cp) over last interval\n }\n}";
        let (file, errors) = parse_scenario(src);
        assert!(file.is_some());
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn recovers_and_reports_every_broken_statement() {
        let src = "model m\nindividual {\n a = 1 +\n b = 2\n c = * 3\n d = 4\n}";
        let (file, errors) = parse(src);
        assert!(file.is_some());
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
