//! One pass over a payload's JSON text, already checked by serde_json's raw-value parser,
//! for what that check does not cover: nesting depth, line breaks between tokens, and the
//! tokens serde_json skims but would refuse to parse into a value (an unpaired `\uD800`
//! surrogate, a number out of `f64` range). Strings are crossed with `memchr`, so a payload
//! of long strings costs little more than finding their quotes.

/// What the text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Deepest nesting of arrays and objects (`{}` is 1).
    pub depth: usize,
    /// No line breaks, no surrogate escapes, no exponents or very long numbers: the text
    /// parses into a value exactly as it was checked, and fits on one line.
    pub plain: bool,
}

/// Longest run of number characters taken as plain: anything longer may be out of range.
const PLAIN_NUMBER: usize = 300;

/// Scans `text`, which serde_json has already checked to be one JSON value.
pub fn scan(text: &str) -> Scan {
    let b = text.as_bytes();
    let (mut i, mut depth, mut deepest, mut plain) = (0, 0usize, 0, true);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    let Some(at) = memchr::memchr2(b'"', b'\\', &b[i..]) else {
                        // Unterminated: not text serde_json let through; parse to be sure.
                        return Scan {
                            depth: deepest,
                            plain: false,
                        };
                    };
                    i += at;
                    if b[i] == b'"' {
                        i += 1;
                        break;
                    }
                    // An escape: `\uXXXX` in the surrogate range needs a real parse.
                    if b.get(i + 1) == Some(&b'u') {
                        let high = b.get(i + 2).copied().unwrap_or(b'0');
                        let next = b.get(i + 3).copied().unwrap_or(b'0');
                        if matches!(high, b'd' | b'D')
                            && matches!(next, b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                        {
                            plain = false;
                        }
                        i = (i + 6).min(b.len());
                    } else {
                        i = (i + 2).min(b.len());
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'\n' | b'\r' => {
                plain = false;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    if matches!(b[i], b'e' | b'E') {
                        plain = false;
                    }
                    i += 1;
                }
                if i - start > PLAIN_NUMBER {
                    plain = false;
                }
            }
            _ => i += 1,
        }
    }
    Scan {
        depth: deepest,
        plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_outside_strings_only() {
        assert_eq!(scan(r#"{"a":[1,{"b":[]}],"c":"[[[{"}"#).depth, 4);
        assert_eq!(scan("7").depth, 0);
        assert_eq!(scan(r#""x\"[""#).depth, 0);
        assert!(scan(r#"{"a":[1,2.5,-3,"x\n\"y\\",true,false,null]}"#).plain);
    }

    #[test]
    fn what_serde_json_skims_but_would_not_parse_is_not_plain() {
        for text in [
            "{\n\"a\":1}",
            "[1,\r\n2]",
            r#""\ud800""#,
            r#"["\uDBFF\uDFFF"]"#,
            "1e400",
            "[2E5]",
            &"9".repeat(400),
        ] {
            assert!(!scan(text).plain, "{text} is plain");
        }
        // Ordinary escapes and non-surrogate \u escapes are plain.
        assert!(scan(r#""\u00e9\u4e2d\n\t\\""#).plain);
    }
}
