//! Header cards: parsing 80-character records into typed values, and formatting them back.

/// A card's value. FITS distinguishes integers from reals, and `T`/`F` logicals from strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Logical(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// COMMENT, HISTORY and blank cards, or a keyword with an empty value.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub key: String,
    pub value: Value,
    pub comment: String,
}

impl Card {
    pub fn new(key: &str, value: Value, comment: &str) -> Card {
        Card { key: key.to_string(), value, comment: comment.to_string() }
    }

    /// The 80 characters of this card. Long strings and comments are cut at 80 characters;
    /// HISTORY text is not split here (see [`Header::history`]).
    pub fn format(&self) -> String {
        let mut c = match &self.value {
            Value::None if self.key == "HISTORY" || self.key == "COMMENT" => format!("{:<8}{}", self.key, self.comment),
            Value::None => format!("{:<8}", self.key),
            v => {
                let text = match v {
                    Value::Logical(b) => format!("{:>20}", if *b { "T" } else { "F" }),
                    Value::Int(i) => format!("{i:>20}"),
                    // 17 significant digits round-trip every f64; FITS
                    // readers accept the E exponent.
                    Value::Float(f) => format!("{:>20}", format!("{f:.16E}")),
                    Value::Str(s) => format!("{:<20}", format!("'{:<8}'", s.replace('\'', "''"))),
                    Value::None => unreachable!(),
                };
                let mut c = format!("{:<8}= {text}", self.key);
                if !self.comment.is_empty() {
                    c.push_str(" / ");
                    c.push_str(&self.comment);
                }
                c
            }
        };
        c = c.chars().filter(|ch| ch.is_ascii() && !ch.is_ascii_control()).take(80).collect();
        format!("{c:<80}")
    }

    /// Parses one 80-byte card; `None` for a card that is not valid ASCII.
    pub fn parse(record: &[u8]) -> Option<Card> {
        let text = std::str::from_utf8(record).ok()?;
        if !text.is_ascii() {
            return None;
        }
        let key = text.get(..8).unwrap_or(text).trim_end().to_string();
        let rest = text.get(8..).unwrap_or("");
        if !rest.starts_with("= ") || key == "HISTORY" || key == "COMMENT" {
            return Some(Card { key, value: Value::None, comment: rest.trim_end().to_string() });
        }
        let (value, comment) = parse_value(&rest[2..]);
        Some(Card { key, value, comment })
    }
}

/// A value field and its comment: a quoted string (with `''` for a quote), or a token up to `/`.
fn parse_value(field: &str) -> (Value, String) {
    let trimmed = field.trim_start();
    if let Some(body) = trimmed.strip_prefix('\'') {
        let mut s = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = body.len();
        while let Some((i, ch)) = chars.next() {
            if ch == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    s.push('\'');
                    chars.next();
                } else {
                    end = i + 1;
                    break;
                }
            } else {
                s.push(ch);
            }
        }
        let comment = body[end..].trim().trim_start_matches('/').trim().to_string();
        // Trailing blanks in a FITS string are not significant.
        return (Value::Str(s.trim_end().to_string()), comment);
    }
    let (token, comment) = match trimmed.find('/') {
        Some(i) => (trimmed[..i].trim(), trimmed[i + 1..].trim().to_string()),
        None => (trimmed.trim(), String::new()),
    };
    let value = match token {
        "" => Value::None,
        "T" => Value::Logical(true),
        "F" => Value::Logical(false),
        t => {
            if let Ok(i) = t.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(f) = t.replace(['D', 'd'], "E").parse::<f64>() {
                Value::Float(f)
            } else {
                Value::Str(t.to_string())
            }
        }
    };
    (value, comment)
}

/// The cards of one HDU, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub cards: Vec<Card>,
}

impl Header {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cards.iter().find(|c| c.key == key).map(|c| &c.value)
    }

    pub fn f64(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn push(&mut self, key: &str, value: Value, comment: &str) {
        self.cards.push(Card::new(key, value, comment));
    }

    /// Sets `key`, replacing its first card if there is one.
    pub fn set(&mut self, key: &str, value: Value, comment: &str) {
        match self.cards.iter_mut().find(|c| c.key == key) {
            Some(c) => {
                c.value = value;
                c.comment = comment.to_string();
            }
            None => self.push(key, value, comment),
        }
    }

    /// HISTORY cards hold 72 characters of free text each; longer text takes several.
    pub fn history(&mut self, text: &str) {
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(72) {
            self.push("HISTORY", Value::None, &piece.iter().collect::<String>());
        }
    }

    /// The header as FITS bytes: the cards, END, and blanks to a whole record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.cards.iter().flat_map(|c| c.format().into_bytes()).collect();
        out.extend_from_slice(format!("{:<80}", "END").as_bytes());
        out.resize(out.len().div_ceil(crate::RECORD) * crate::RECORD, b' ');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_round_trip() {
        let cards = [
            Card::new("SIMPLE", Value::Logical(true), "conforms"),
            Card::new("NAXIS1", Value::Int(2048), ""),
            Card::new("CDELT1", Value::Float(-1.6666666666666666e-3), "deg"),
            Card::new("OBJECT", Value::Str("it's".into()), ""),
        ];
        for c in cards {
            let text = c.format();
            assert_eq!(text.len(), 80);
            assert_eq!(Card::parse(text.as_bytes()).unwrap(), c, "{text}");
        }
    }

    #[test]
    fn parses_foreign_spellings() {
        let c = Card::parse(format!("{:<80}", "CRVAL1  =   1.2345D+02 / written by Fortran").as_bytes()).unwrap();
        assert_eq!(c.value, Value::Float(123.45));
        assert_eq!(c.comment, "written by Fortran");
        let c = Card::parse(format!("{:<80}", "CTYPE1  = 'RA---TAN'           / a / in the comment").as_bytes()).unwrap();
        assert_eq!(c.value, Value::Str("RA---TAN".into()));
        let c = Card::parse(format!("{:<80}", "HISTORY = not a value").as_bytes()).unwrap();
        assert_eq!(c.value, Value::None);
    }
}
