//! The CSV reader of ferry's sources-list and tracker components: text split into records of
//! fields, each with the line it starts on.
//!
//! Go's `encoding/csv` as ace-dt configures it (comma separator, comment `#`, any number of
//! fields per record, leading space and tab of each field trimmed, `"…"` quoting with `""`
//! escapes, a bare `"` in an unquoted field an error, `\r\n` accepted), with ace-dt's traps
//! removed: a `#` after leading spaces starts a comment too, and whitespace-only lines are
//! skipped instead of giving one empty field. A final line needs no newline.

/// A record: the 1-based line it starts on, and its fields.
pub type Record = (u32, Vec<String>);

/// What is wrong, and on which 1-based line.
pub type Error = (u32, String);

/// The records of `text`.
pub fn records(text: &str) -> Result<Vec<Record>, Error> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        // A blank or comment line, whatever spaces it starts with, is not a record.
        let rest: String = chars.clone().take_while(|c| *c != '\n').collect();
        let trimmed = rest.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            line += 1;
            continue;
        }
        let mut fields = Vec::new();
        loop {
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err((start, "quoted field is not closed".to_owned())),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some('\n') => {
                            line += 1;
                            field.push('\n');
                        }
                        Some(c) => field.push(c),
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(_) => return Err((line, "extraneous or missing \" in quoted field".to_owned())),
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' {
                        break;
                    }
                    if c == '"' {
                        return Err((line, "bare \" in unquoted field (quote the whole field and double the quote)".to_owned()));
                    }
                    field.push(c);
                    chars.next();
                }
                if field.ends_with('\r') {
                    field.pop();
                }
            }
            fields.push(field.trim_end_matches('\r').to_owned());
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                None => break,
                Some(c) => return Err((line, format!("unexpected character {c:?}"))),
            }
        }
        out.push((start, fields));
    }
    Ok(out)
}
