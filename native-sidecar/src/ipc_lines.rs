//! Splitting an agent's byte stream into lines: `memchr` finds each `\n` (a vectorized scan;
//! tokio-util's `AnyDelimiterCodec` tested every byte against a delimiter list and was 5 % of
//! a busy sidecar's CPU). A line longer than the limit is skipped up to its end and reported
//! as [`Line::TooLong`]; the stream carries on with the next line.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

/// One item of the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line without its `\n`.
    Text(BytesMut),
    /// A line over the limit was skipped.
    TooLong,
}

/// `\n`-separated lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    /// Bytes of the buffer already searched for `\n`.
    searched: usize,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl LineSplitter {
    /// Lines of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            searched: 0,
            skipping: false,
        }
    }
}

impl Decoder for LineSplitter {
    type Item = Line;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, std::io::Error> {
        loop {
            let Some(at) = memchr::memchr(b'\n', &buf[self.searched..]) else {
                if self.skipping {
                    buf.clear();
                    self.searched = 0;
                } else if buf.len() > self.max {
                    // Over the limit before its end: drop what came, skip to the `\n`.
                    buf.clear();
                    self.searched = 0;
                    self.skipping = true;
                    return Ok(Some(Line::TooLong));
                } else {
                    self.searched = buf.len();
                }
                return Ok(None);
            };
            let end = self.searched + at;
            self.searched = 0;
            if self.skipping {
                buf.advance(end + 1);
                self.skipping = false;
                continue;
            }
            if end > self.max {
                buf.advance(end + 1);
                return Ok(Some(Line::TooLong));
            }
            let mut line = buf.split_to(end + 1);
            line.truncate(end);
            return Ok(Some(Line::Text(line)));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, std::io::Error> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        // The last line may end without `\n`.
        self.searched = 0;
        if self.skipping || buf.is_empty() {
            buf.clear();
            return Ok(None);
        }
        Ok(Some(Line::Text(buf.split())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(max: usize, chunks: &[&[u8]]) -> Vec<Line> {
        let mut codec = LineSplitter::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(line) = codec.decode(&mut buf).expect("decodes") {
                out.push(line);
            }
        }
        while let Some(line) = codec.decode_eof(&mut buf).expect("decodes") {
            out.push(line);
        }
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(BytesMut::from(s.as_bytes()))
    }

    #[test]
    fn lines_split_at_newlines_across_reads_and_the_last_may_lack_one() {
        let got = lines(100, &[b"ab", b"c\nd", b"e\n\nf"]);
        assert_eq!(got, vec![text("abc"), text("de"), text(""), text("f")]);
    }

    #[test]
    fn an_over_long_line_is_skipped_and_the_next_line_still_arrives() {
        // Whole in one read, and arriving in pieces past the limit before its end.
        assert_eq!(lines(4, &[b"12345\nok\n"]), vec![Line::TooLong, text("ok")]);
        assert_eq!(
            lines(4, &[b"123", b"456", b"789", b"0\nok\n"]),
            vec![Line::TooLong, text("ok")]
        );
        // Exactly at the limit is a line.
        assert_eq!(lines(4, &[b"1234\n"]), vec![text("1234")]);
    }

    #[test]
    fn a_skipped_line_never_grows_the_buffer() {
        let mut codec = LineSplitter::new(8);
        let mut buf = BytesMut::new();
        let mut too_long = 0;
        for _ in 0..1000 {
            buf.extend_from_slice(b"xxxxxxxxxxxx");
            while let Some(line) = codec.decode(&mut buf).expect("decodes") {
                assert_eq!(line, Line::TooLong);
                too_long += 1;
            }
            assert!(buf.len() <= 12, "buffer holds {} bytes", buf.len());
        }
        assert_eq!(too_long, 1);
    }
}
