//! Tokeniser for the filter language.
//!
//! Tokens: `(` `)` `[` `]` `.`, words (attribute paths and keywords), JSON strings and JSON
//! numbers. Whitespace (space, tab, CR, LF) separates tokens and is otherwise ignored; it is
//! needed only where two tokens would otherwise run together (two words, or a number followed
//! by a letter, which is an error).

use super::ast::FilterError;

/// One token kind.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    /// A run of `ALPHA / DIGIT / "-" / "_" / "." / ":" / "$"` starting with a letter or `$`.
    Word(&'a str),
    /// A JSON string, escapes decoded.
    Str(String),
    /// A JSON number.
    Num(serde_json::Number),
}

/// A token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) pos: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    fn slice(&self, start: usize) -> &'a str {
        self.src.get(start..self.pos).unwrap_or_default()
    }
}

/// Splits `src` into tokens.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let mut cur = Cursor { src, pos: 0 };
    let mut out = Vec::new();
    loop {
        cur.eat_while(is_space);
        let pos = cur.pos;
        let Some(c) = cur.peek() else {
            return Ok(out);
        };
        let tok = match c {
            '(' | ')' | '[' | ']' | '.' => {
                cur.bump();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Dot,
                }
            }
            '"' => Tok::Str(lex_string(&mut cur)?),
            '-' | '0'..='9' => Tok::Num(lex_number(&mut cur)?),
            c if is_word_start(c) => {
                cur.eat_while(is_word_char);
                Tok::Word(cur.slice(pos))
            }
            '\'' => {
                return Err(FilterError::new(
                    pos,
                    "strings must be in double quotes (JSON strings)",
                ));
            }
            c => {
                return Err(FilterError::new(pos, format!("unexpected character {c:?}")));
            }
        };
        out.push(Token { tok, pos });
    }
}

/// Lexes a JSON number at the cursor (`-? int frac? exp?`).
fn lex_number(cur: &mut Cursor<'_>) -> Result<serde_json::Number, FilterError> {
    let start = cur.pos;
    let digit = |c: char| c.is_ascii_digit();
    if cur.peek() == Some('-') {
        cur.bump();
    }
    match cur.peek() {
        Some('0') => {
            cur.bump();
            if cur.peek().is_some_and(digit) {
                return Err(FilterError::new(
                    cur.pos,
                    "leading zeros are not allowed in numbers",
                ));
            }
        }
        Some(c) if c.is_ascii_digit() => cur.eat_while(digit),
        _ => return Err(FilterError::new(cur.pos, "expected a digit")),
    }
    let mut integer = true;
    if cur.peek() == Some('.') {
        integer = false;
        cur.bump();
        if !cur.peek().is_some_and(digit) {
            return Err(FilterError::new(
                cur.pos,
                "expected a digit after the decimal point",
            ));
        }
        cur.eat_while(digit);
    }
    if matches!(cur.peek(), Some('e' | 'E')) {
        integer = false;
        cur.bump();
        if matches!(cur.peek(), Some('+' | '-')) {
            cur.bump();
        }
        if !cur.peek().is_some_and(digit) {
            return Err(FilterError::new(
                cur.pos,
                "expected a digit in the exponent",
            ));
        }
        cur.eat_while(digit);
    }
    if let Some(c) = cur.peek()
        && (is_word_char(c) || c == '"')
    {
        return Err(FilterError::new(
            cur.pos,
            format!("unexpected character {c:?} after number"),
        ));
    }
    let text = cur.slice(start);
    if integer {
        if let Ok(n) = text.parse::<u64>() {
            return Ok(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Ok(n.into());
        }
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .ok_or_else(|| FilterError::new(start, "number out of range"))
}

/// Lexes a JSON string at the cursor (which is on the opening quote), decoding escapes.
fn lex_string(cur: &mut Cursor<'_>) -> Result<String, FilterError> {
    let start = cur.pos;
    cur.bump();
    let mut out = String::new();
    loop {
        let pos = cur.pos;
        match cur.bump() {
            None => return Err(FilterError::new(start, "unterminated string")),
            Some('"') => return Ok(out),
            Some('\\') => {
                let c = match cur.bump() {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('u') => lex_unicode_escape(cur, pos)?,
                    None => return Err(FilterError::new(start, "unterminated string")),
                    Some(c) => {
                        return Err(FilterError::new(
                            pos,
                            format!("invalid escape \\{c} in string"),
                        ));
                    }
                };
                out.push(c);
            }
            Some(c) if c < ' ' => {
                return Err(FilterError::new(
                    pos,
                    "control characters in strings must be escaped",
                ));
            }
            Some(c) => out.push(c),
        }
    }
}

/// Reads the 4 hex digits after `\u`; `pos` is the position of the backslash.
fn hex4(cur: &mut Cursor<'_>, pos: usize) -> Result<u32, FilterError> {
    let mut v = 0u32;
    for _ in 0..4 {
        let d = cur
            .bump()
            .and_then(|c| c.to_digit(16))
            .ok_or_else(|| FilterError::new(pos, "\\u must be followed by 4 hex digits"))?;
        v = v * 16 + d;
    }
    Ok(v)
}

/// Decodes `\uXXXX` (the cursor is after the `u`), including a UTF-16 surrogate pair.
fn lex_unicode_escape(cur: &mut Cursor<'_>, pos: usize) -> Result<char, FilterError> {
    let hi = hex4(cur, pos)?;
    let code = match hi {
        0xD800..=0xDBFF => {
            let low_pos = cur.pos;
            if cur.bump() != Some('\\') || cur.bump() != Some('u') {
                return Err(FilterError::new(
                    pos,
                    "high surrogate \\u escape must be followed by a low surrogate",
                ));
            }
            let lo = hex4(cur, low_pos)?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return Err(FilterError::new(
                    low_pos,
                    "expected a low surrogate \\u escape",
                ));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        }
        0xDC00..=0xDFFF => {
            return Err(FilterError::new(pos, "unpaired low surrogate \\u escape"));
        }
        v => v,
    };
    char::from_u32(code).ok_or_else(|| FilterError::new(pos, "invalid \\u escape"))
}
