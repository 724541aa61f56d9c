//! Task results as safe Markdown: agents answer in Markdown (chatixia's `list_agents` sends
//! a `## Mesh Agents` list), and a result is text from the network, so nothing in it may
//! become live HTML in the hub.
//!
//! minimad (the parser behind termimad and broot) reads the Markdown a terminal can show — headers,
//! lists, quotes, code, tables, bold, italic, strikeout — and has no notion of HTML, links or
//! images; the HTML here is written by hand and every character of the text goes through
//! [`escape`]. Raw HTML, `javascript:` links and image tags therefore arrive as the text they
//! are. (pulldown-cmark did the same job at +73 KB gzip of wasm; this costs a few KB.)

use minimad::{Composite, CompositeStyle, Line, Options};

/// A block that spans several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    List,
    OrderedList,
    Code,
    Quote,
    Table,
}

impl Block {
    fn open(self) -> &'static str {
        match self {
            Block::List => "<ul>",
            Block::OrderedList => "<ol>",
            Block::Code => "<pre><code>",
            Block::Quote => "<blockquote>",
            Block::Table => "<table>",
        }
    }

    fn close(self) -> &'static str {
        match self {
            Block::List => "</ul>",
            Block::OrderedList => "</ol>",
            Block::Code => "</code></pre>",
            Block::Quote => "</blockquote>",
            Block::Table => "</table>",
        }
    }
}

/// `text` rendered as HTML that is safe to insert with `innerHTML`.
pub fn to_safe_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    let mut open: Option<Block> = None;
    for line in minimad::parse_text(text, Options::default()).lines {
        match line {
            Line::Normal(c) => match c.style {
                CompositeStyle::ListItem(depth) => {
                    enter(&mut out, &mut open, Block::List);
                    out.push_str(&format!("<li class=\"depth-{depth}\">"));
                    inline(&mut out, &c);
                    out.push_str("</li>");
                }
                CompositeStyle::OrderedListItem { level, index } => {
                    enter(&mut out, &mut open, Block::OrderedList);
                    out.push_str(&format!("<li class=\"depth-{level}\" value=\"{index}\">"));
                    inline(&mut out, &c);
                    out.push_str("</li>");
                }
                CompositeStyle::Code => {
                    enter(&mut out, &mut open, Block::Code);
                    for part in &c.compounds {
                        escape(&mut out, part.src);
                    }
                    out.push('\n');
                }
                CompositeStyle::Quote => {
                    enter(&mut out, &mut open, Block::Quote);
                    out.push_str("<p>");
                    inline(&mut out, &c);
                    out.push_str("</p>");
                }
                CompositeStyle::Header(level) => {
                    leave(&mut out, &mut open);
                    let level = level.clamp(1, 6);
                    out.push_str(&format!("<h{level}>"));
                    inline(&mut out, &c);
                    out.push_str(&format!("</h{level}>"));
                }
                CompositeStyle::Paragraph => {
                    leave(&mut out, &mut open);
                    if !c.compounds.iter().all(|p| p.src.trim().is_empty()) {
                        out.push_str("<p>");
                        inline(&mut out, &c);
                        out.push_str("</p>");
                    }
                }
            },
            Line::TableRow(row) => {
                enter(&mut out, &mut open, Block::Table);
                out.push_str("<tr>");
                for cell in &row.cells {
                    out.push_str("<td>");
                    inline(&mut out, cell);
                    out.push_str("</td>");
                }
                out.push_str("</tr>");
            }
            Line::TableRule(_) => {}
            Line::HorizontalRule => {
                leave(&mut out, &mut open);
                out.push_str("<hr>");
            }
            // Fences are consumed by the parser; the lines between them come as code.
            Line::CodeFence(_) => {}
        }
    }
    leave(&mut out, &mut open);
    out
}

fn enter(out: &mut String, open: &mut Option<Block>, block: Block) {
    if *open != Some(block) {
        leave(out, open);
        out.push_str(block.open());
        *open = Some(block);
    }
}

fn leave(out: &mut String, open: &mut Option<Block>) {
    if let Some(block) = open.take() {
        out.push_str(block.close());
    }
}

/// One line's styled parts.
fn inline(out: &mut String, line: &Composite<'_>) {
    for part in &line.compounds {
        let tags = [
            (part.code, "code"),
            (part.bold, "strong"),
            (part.italic, "em"),
            (part.strikeout, "del"),
        ];
        for (on, tag) in tags {
            if on {
                out.push_str(&format!("<{tag}>"));
            }
        }
        escape(out, part.src);
        for (on, tag) in tags.iter().rev() {
            if *on {
                out.push_str(&format!("</{tag}>"));
            }
        }
    }
}

/// Appends `text` with every character that means something in HTML escaped.
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_markdown_renders() {
        let html = to_safe_html(
            "## Mesh Agents\n\n- **alice** [active]\n- bob\n\nskills: `list_agents`\n",
        );
        assert!(html.contains("<h2>Mesh Agents</h2>"), "{html}");
        assert!(
            html.contains("<ul><li class=\"depth-0\"><strong>alice</strong> [active]</li>"),
            "{html}"
        );
        assert!(html.contains("<code>list_agents</code>"), "{html}");
        let ordered = to_safe_html("1. one\n2. two");
        assert!(
            ordered.starts_with("<ol><li class=\"depth-0\" value=\"1\">one</li>"),
            "{ordered}"
        );
        let code = to_safe_html("```\nlet a = 1 < 2;\n```");
        assert_eq!(code, "<pre><code>let a = 1 &lt; 2;\n</code></pre>");
    }

    #[test]
    fn raw_html_stays_text() {
        let hostile = "<img src=x onerror=\"alert(1)\">\n\n<script>alert(2)</script> and \
                       inline <b onclick=alert(3)>bold</b> <iframe src=//evil>";
        let html = to_safe_html(hostile);
        for tag in ["<img", "<script", "<b ", "<iframe", "\"alert"] {
            assert!(!html.contains(tag), "{tag} survived: {html}");
        }
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn links_and_images_are_text() {
        let html = to_safe_html("[a](javascript:alert(1)) ![t](https://evil.example/p.gif)");
        assert!(!html.contains("<a") && !html.contains("<img"), "{html}");
        assert!(html.contains("[a](javascript:alert(1))"), "{html}");
    }

    #[test]
    fn tables_render_cell_by_cell() {
        let html = to_safe_html("|a|<b>|\n|-|-|\n|1|2|");
        assert!(
            html.starts_with("<table><tr><td>a</td><td>&lt;b&gt;</td></tr>"),
            "{html}"
        );
        assert!(html.ends_with("</table>"), "{html}");
    }
}
