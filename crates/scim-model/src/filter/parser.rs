//! Recursive-descent parser with an explicit nesting limit.
//!
//! ```text
//! or    := and ("or" and)*                     ; left-associative
//! and   := unary ("and" unary)*                ; left-associative
//! unary := "not" "(" or ")" | "(" or ")" | attrExpr
//! attrExpr := attrPath "pr" | attrPath compareOp value
//!           | attrPath "[" or "]" ["." name ("pr" | compareOp value)]
//! ```
//!
//! Recursion happens only through `(`, `not (` and `[`, each of which counts one level
//! against [`MAX_FILTER_DEPTH`], so the stack depth is bounded whatever the input.
//! `and`/`or` chains are parsed in a loop but build a tree as deep as the chain, which
//! every later consumer recurses over: at most [`MAX_FILTER_OPERATORS`] of them.

use super::ast::{CompValue, CompareOp, Filter, FilterError};
use super::lexer::{Tok, Token, tokenize};
use super::{MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_OPERATORS};
use crate::path::{AttrPath, PathError, check_attr_name, parse_attr_path};

/// Parses a SCIM filter (RFC 7644 §3.4.2.2) into a [`Filter`].
///
/// Beyond the RFC grammar this accepts:
/// - keywords (`and`, `or`, `not`, `pr`, operators, `true`, `false`, `null`) in any letter case;
/// - any amount of whitespace (space, tab, CR, LF) between tokens, including leading and
///   trailing whitespace; whitespace may be omitted next to `(`, `)`, `[`, `]` and quotes
///   (`userName eq"x"`), but not inside a path: `emails[`, `].value` must be contiguous;
/// - `attr[filter].sub op value` and `attr[filter].sub pr` (sent by Entra ID), desugared to
///   `attr[filter and sub op value]` (see [`Filter::ValuePath`]);
/// - an attribute named like a keyword where an attribute is expected (`not eq "x"` compares
///   the attribute `not`); `not` followed by `(` is always the operator.
///
/// Rejected: unquoted or single-quoted values, trailing input, nested value paths
/// (`a[b[c pr]]`), a value path on a sub-attribute (`name.x[...]`), invalid JSON escapes or
/// numbers, input longer than [`MAX_FILTER_LEN`] bytes, nesting deeper than
/// [`MAX_FILTER_DEPTH`] and more than [`MAX_FILTER_OPERATORS`] `and`/`or`. Errors carry the byte offset of the offending token.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    check_len(input)?;
    let tokens = tokenize(input)?;
    let mut p = Parser::new(&tokens, input.len());
    let f = p.parse_or()?;
    p.expect_end()?;
    Ok(f)
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_filter(s)
    }
}

/// Parses the value-path form of a PATCH path, `attr[filter][.sub]`, for
/// [`crate::path::PatchPath::parse`].
pub(crate) fn parse_patch_path(
    input: &str,
) -> Result<(AttrPath, Filter, Option<String>), FilterError> {
    check_len(input)?;
    if input.starts_with(is_space) {
        return Err(FilterError::new(0, "whitespace before the path"));
    }
    if input.ends_with(is_space) {
        let trimmed = input.trim_end_matches(is_space);
        return Err(FilterError::new(trimmed.len(), "whitespace after the path"));
    }
    let tokens = tokenize(input)?;
    let mut p = Parser::new(&tokens, input.len());
    let Some(Token {
        tok: Tok::Word(word),
        pos,
    }) = p.next()
    else {
        return Err(FilterError::new(0, "expected an attribute path"));
    };
    if !matches!(p.peek_tok(), Some(Tok::LBracket)) {
        return Err(p.unexpected("expected '['"));
    }
    let (attr, filter, sub) = p.parse_value_path(word, *pos)?;
    p.expect_end()?;
    Ok((attr, filter, sub.map(|(name, _)| name)))
}

fn check_len(input: &str) -> Result<(), FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(FilterError::new(
            MAX_FILTER_LEN,
            format!(
                "input is {} bytes, longer than the limit of {MAX_FILTER_LEN}",
                input.len()
            ),
        ));
    }
    Ok(())
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn path_err(e: PathError) -> FilterError {
    FilterError::new(e.pos, e.message)
}

fn describe(tok: &Tok<'_>) -> String {
    match tok {
        Tok::LParen => "'('".to_owned(),
        Tok::RParen => "')'".to_owned(),
        Tok::LBracket => "'['".to_owned(),
        Tok::RBracket => "']'".to_owned(),
        Tok::Dot => "'.'".to_owned(),
        Tok::Word(w) => format!("{w:?}"),
        Tok::Str(_) => "a string".to_owned(),
        Tok::Num(_) => "a number".to_owned(),
    }
}

struct Parser<'t, 'a> {
    toks: &'t [Token<'a>],
    idx: usize,
    depth: usize,
    /// `and`/`or` operators consumed so far.
    operators: usize,
    in_brackets: bool,
    /// Input length: the position reported for "unexpected end of input".
    end: usize,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn new(toks: &'t [Token<'a>], end: usize) -> Self {
        Self {
            toks,
            idx: 0,
            depth: 0,
            operators: 0,
            in_brackets: false,
            end,
        }
    }

    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.idx)
    }

    fn peek_tok(&self) -> Option<&'t Tok<'a>> {
        self.peek().map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<&'t Token<'a>> {
        let t = self.toks.get(self.idx)?;
        self.idx += 1;
        Some(t)
    }

    /// An error at the next token (or at the end of input) saying what was expected.
    fn unexpected(&self, expected: &str) -> FilterError {
        match self.peek() {
            Some(t) => FilterError::new(t.pos, format!("{expected}, found {}", describe(&t.tok))),
            None => FilterError::new(self.end, format!("{expected}, found end of input")),
        }
    }

    fn expect_end(&self) -> Result<(), FilterError> {
        match self.peek() {
            None => Ok(()),
            Some(Token {
                tok: Tok::RParen,
                pos,
            }) => Err(FilterError::new(*pos, "unmatched ')'")),
            Some(Token {
                tok: Tok::RBracket,
                pos,
            }) => Err(FilterError::new(*pos, "unmatched ']'")),
            Some(_) => Err(self.unexpected("expected 'and', 'or' or end of input")),
        }
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if let Some(Tok::Word(w)) = self.peek_tok()
            && w.eq_ignore_ascii_case(kw)
        {
            self.idx += 1;
            return true;
        }
        false
    }

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(FilterError::new(
                pos,
                format!("filter is nested deeper than {MAX_FILTER_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Counts one `and`/`or` (the token just consumed) against [`MAX_FILTER_OPERATORS`].
    fn count_operator(&mut self) -> Result<(), FilterError> {
        self.operators += 1;
        if self.operators > MAX_FILTER_OPERATORS {
            let pos = self
                .idx
                .checked_sub(1)
                .and_then(|i| self.toks.get(i))
                .map_or(self.end, |t| t.pos);
            return Err(FilterError::new(
                pos,
                format!("filter has more than {MAX_FILTER_OPERATORS} 'and'/'or' operators"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Consumes the `)` closing the `(` at `open`.
    fn close_paren(&mut self, open: usize) -> Result<(), FilterError> {
        match self.peek_tok() {
            Some(Tok::RParen) => {
                self.idx += 1;
                Ok(())
            }
            None => Err(FilterError::new(open, "unclosed '('")),
            Some(_) => Err(self.unexpected("expected 'and', 'or' or ')'")),
        }
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.eat_keyword("or") {
            self.count_operator()?;
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.eat_keyword("and") {
            self.count_operator()?;
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        let Some(t) = self.peek() else {
            return Err(self.unexpected("expected a filter expression"));
        };
        match &t.tok {
            Tok::LParen => {
                self.idx += 1;
                self.enter(t.pos)?;
                let f = self.parse_or()?;
                self.close_paren(t.pos)?;
                self.leave();
                Ok(f)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                self.idx += 1;
                match self.peek_tok() {
                    Some(Tok::LParen) => {
                        let open = self.peek().map_or(t.pos, |p| p.pos);
                        self.idx += 1;
                        self.enter(t.pos)?;
                        let f = self.parse_or()?;
                        self.close_paren(open)?;
                        self.leave();
                        Ok(Filter::Not(Box::new(f)))
                    }
                    // `not` used as an attribute name: `not pr`, `not eq 1`, `not[x pr]`.
                    Some(Tok::Word(k))
                        if k.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(k).is_some() =>
                    {
                        self.parse_attr_expr(w, t.pos)
                    }
                    Some(Tok::LBracket) => self.parse_attr_expr(w, t.pos),
                    _ => Err(self.unexpected("expected '(' after 'not'")),
                }
            }
            Tok::Word(w) => {
                self.idx += 1;
                self.parse_attr_expr(w, t.pos)
            }
            Tok::RParen if self.depth > 0 => Err(self.unexpected("expected a filter expression")),
            Tok::RParen => Err(FilterError::new(t.pos, "unmatched ')'")),
            _ => Err(self.unexpected("expected an attribute path, '(' or 'not'")),
        }
    }

    /// Parses what follows an attribute path `word` (already consumed, at `pos`).
    fn parse_attr_expr(&mut self, word: &'a str, pos: usize) -> Result<Filter, FilterError> {
        if let Some(Tok::LBracket) = self.peek_tok() {
            let (attr, inner, sub) = self.parse_value_path(word, pos)?;
            let filter = match sub {
                None => inner,
                Some((sub, _)) => {
                    let tail = self.parse_op_tail(AttrPath::new(sub))?;
                    Filter::And(Box::new(inner), Box::new(tail))
                }
            };
            return Ok(Filter::ValuePath {
                attr,
                filter: Box::new(filter),
            });
        }
        let path = parse_attr_path(word, pos).map_err(path_err)?;
        self.parse_op_tail(path)
    }

    /// Parses `[filter]` and an optional contiguous `.sub` after the attribute `word` at
    /// `pos`; the next token is the `[`.
    #[allow(clippy::type_complexity)]
    fn parse_value_path(
        &mut self,
        word: &'a str,
        pos: usize,
    ) -> Result<(AttrPath, Filter, Option<(String, usize)>), FilterError> {
        let attr = parse_attr_path(word, pos).map_err(path_err)?;
        let Some(open) = self.next() else {
            return Err(FilterError::new(self.end, "expected '['"));
        };
        if self.in_brackets {
            return Err(FilterError::new(
                open.pos,
                "value paths cannot be nested inside another value path",
            ));
        }
        if open.pos != pos + word.len() {
            return Err(FilterError::new(
                pos + word.len(),
                "no whitespace allowed between an attribute and '['",
            ));
        }
        if attr.sub_attr.is_some() {
            return Err(FilterError::new(
                pos,
                "a value path must name an attribute without a sub-attribute",
            ));
        }
        self.enter(open.pos)?;
        self.in_brackets = true;
        let inner = self.parse_or()?;
        let close = match self.peek() {
            Some(
                t @ Token {
                    tok: Tok::RBracket, ..
                },
            ) => {
                self.idx += 1;
                t.pos
            }
            None => return Err(FilterError::new(open.pos, "unclosed '['")),
            Some(_) => return Err(self.unexpected("expected 'and', 'or' or ']'")),
        };
        self.in_brackets = false;
        self.leave();
        let Some(Token {
            tok: Tok::Dot,
            pos: dot,
        }) = self.peek()
        else {
            return Ok((attr, inner, None));
        };
        if *dot != close + 1 {
            return Err(FilterError::new(
                *dot,
                "no whitespace allowed between ']' and '.'",
            ));
        }
        self.idx += 1;
        match self.next() {
            Some(Token {
                tok: Tok::Word(name),
                pos: npos,
            }) if *npos == dot + 1 => {
                check_attr_name(name, *npos).map_err(path_err)?;
                Ok((attr, inner, Some(((*name).to_owned(), *npos))))
            }
            _ => Err(FilterError::new(
                dot + 1,
                "expected a sub-attribute name right after '.'",
            )),
        }
    }

    /// Parses `pr` or `op value` after `path`.
    fn parse_op_tail(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        const EXPECTED_OP: &str = "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
        let Some(Tok::Word(w)) = self.peek_tok() else {
            return Err(self.unexpected(EXPECTED_OP));
        };
        if w.eq_ignore_ascii_case("pr") {
            self.idx += 1;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(w) else {
            return Err(self.unexpected(EXPECTED_OP));
        };
        self.idx += 1;
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self) -> Result<CompValue, FilterError> {
        let value = match self.peek() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => CompValue::String(s.clone()),
            Some(Token {
                tok: Tok::Num(n), ..
            }) => CompValue::Number(n.clone()),
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) => {
                if w.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if w.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    return Err(FilterError::new(
                        *pos,
                        "unquoted value: compare values must be JSON strings (in double quotes), numbers, true, false or null",
                    ));
                }
            }
            _ => {
                return Err(
                    self.unexpected("expected a value (a string, a number, true, false or null)")
                );
            }
        };
        self.idx += 1;
        Ok(value)
    }
}
