//! Sprig's string functions: trimming, case, substrings, quoting, indentation and the case
//! conversions. Offsets (`substr`, `trunc`) count bytes, as in Go, moved to the nearest
//! character boundary instead of splitting one.

use gotmpl::{FuncMap, Result, Value};

use super::{add, arity, at_least, fail, int, string, text};

pub fn register(m: &mut FuncMap) {
    unary(m, "trim", |s| s.trim().to_owned());
    unary(m, "upper", str::to_uppercase);
    unary(m, "lower", str::to_lowercase);
    unary(m, "title", title);
    unary(m, "untitle", |s| each_word_start(s, |c, out| out.extend(c.to_lowercase())));
    unary(m, "swapcase", swapcase);
    unary(m, "nospace", |s| s.chars().filter(|c| !c.is_whitespace()).collect());
    unary(m, "initials", |s| s.split_whitespace().filter_map(|w| w.chars().next()).collect());
    unary(m, "snakecase", |s| words(s).join("_").to_lowercase());
    unary(m, "kebabcase", |s| words(s).join("-").to_lowercase());
    unary(m, "camelcase", camelcase);
    binary(m, "trimAll", |cutset, s| s.trim_matches(|c| cutset.contains(c)).to_owned());
    binary(m, "trimPrefix", |p, s| s.strip_prefix(p).unwrap_or(s).to_owned());
    binary(m, "trimSuffix", |p, s| s.strip_suffix(p).unwrap_or(s).to_owned());
    predicate(m, "contains", |sub, s| s.contains(sub));
    predicate(m, "hasPrefix", |p, s| s.starts_with(p));
    predicate(m, "hasSuffix", |p, s| s.ends_with(p));
    add(m, "repeat", |a| {
        arity("repeat", a, 2)?;
        let n = usize::try_from(int(&a[0])).map_err(|_| fail("repeat", "negative count"))?;
        Ok(string(text(&a[1]).repeat(n)))
    });
    add(m, "substr", |a| {
        arity("substr", a, 3)?;
        Ok(string(substr(int(&a[0]), int(&a[1]), &text(&a[2]))))
    });
    add(m, "trunc", |a| {
        arity("trunc", a, 2)?;
        let (n, s) = (int(&a[0]), text(&a[1]));
        let len = s.len() as i64;
        Ok(string(match n {
            n if n < 0 && len + n > 0 => substr(len + n, len, &s),
            n if n >= 0 && len > n => substr(0, n, &s),
            _ => s.into_owned(),
        }))
    });
    add(m, "abbrev", |a| {
        arity("abbrev", a, 2)?;
        let (width, s) = (int(&a[0]), text(&a[1]));
        Ok(string(if width < 4 || s.len() as i64 <= width { s.into_owned() } else { substr(0, width - 3, &s) + "..." }))
    });
    add(m, "replace", |a| {
        arity("replace", a, 3)?;
        Ok(string(text(&a[2]).replace(&*text(&a[0]), &text(&a[1]))))
    });
    add(m, "indent", |a| {
        arity("indent", a, 2)?;
        Ok(string(indent(int(&a[0]), &text(&a[1]))))
    });
    add(m, "nindent", |a| {
        arity("nindent", a, 2)?;
        Ok(string(format!("\n{}", indent(int(&a[0]), &text(&a[1])))))
    });
    add(m, "plural", |a| {
        arity("plural", a, 3)?;
        Ok(if int(&a[2]) == 1 { a[0].clone() } else { a[1].clone() })
    });
    // Nil arguments are left out, as sprig does.
    add(m, "quote", |a| Ok(string(joined(a, go_quote))));
    add(m, "squote", |a| Ok(string(joined(a, |s| format!("'{s}'")))));
    add(m, "cat", |a| Ok(string(joined(a, str::to_owned))));
    add(m, "toString", |a| {
        at_least("toString", a, 1)?;
        Ok(string(match &a[0] {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        }))
    });
}

/// `name S`: a function of one string.
fn unary(m: &mut FuncMap, name: &'static str, f: fn(&str) -> String) {
    add(m, name, move |a| {
        arity(name, a, 1)?;
        Ok(string(f(&text(&a[0]))))
    });
}

/// `name P S`: a function of a parameter and the (piped) string.
fn binary(m: &mut FuncMap, name: &'static str, f: fn(&str, &str) -> String) {
    add(m, name, move |a| {
        arity(name, a, 2)?;
        Ok(string(f(&text(&a[0]), &text(&a[1]))))
    });
}

fn predicate(m: &mut FuncMap, name: &'static str, f: fn(&str, &str) -> bool) {
    add(m, name, move |a: &[Value]| -> Result<Value> {
        arity(name, a, 2)?;
        Ok(Value::Bool(f(&text(&a[0]), &text(&a[1]))))
    });
}

/// The non-nil arguments, each formatted, joined by spaces.
fn joined(args: &[Value], f: impl Fn(&str) -> String) -> String {
    args.iter().filter(|v| !matches!(v, Value::Nil)).map(|v| f(&text(v))).collect::<Vec<_>>().join(" ")
}

/// Sprig's `substr`: a negative start means 0; an end out of range means the end.
fn substr(start: i64, end: i64, s: &str) -> String {
    let clamp = |i: i64| {
        let mut i = i.clamp(0, s.len() as i64) as usize;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = clamp(start);
    let end = if end < 0 { s.len() } else { clamp(end) };
    s.get(start..end.max(start)).unwrap_or("").to_owned()
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(usize::try_from(n).unwrap_or(0));
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Go's `strings.Title`: the first letter after a separator (anything but a letter, digit
/// or `_`) in title case.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_separator = true;
    for c in s.chars() {
        if after_separator {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        after_separator = !(c.is_alphanumeric() || c == '_');
    }
    out
}

/// `f` applied to the first character of each whitespace-separated word, the rest kept.
fn each_word_start(s: &str, f: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && !c.is_whitespace() {
            f(c, &mut out);
        } else {
            out.push(c);
        }
        at_start = c.is_whitespace();
    }
    out
}

fn swapcase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else if c.is_lowercase() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The words of an identifier, as huandu/xstrings finds them: split at anything but a
/// letter or digit, before an upper-case letter that follows a lower-case one or starts a
/// word after an acronym (`HTTPServer`: `HTTP`, `Server`), and where a letter meets a
/// digit (`http2xx`: `http`, `2xx`).
fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&prev) = i.checked_sub(1).map(|p| &chars[p]) {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (c.is_uppercase() && (prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower)))
                || (c.is_numeric() && prev.is_alphabetic());
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `some_words` → `SomeWords`: parts split at `_`, `-` and spaces, each capitalised.
fn camelcase(s: &str) -> String {
    s.split(['_', '-', ' '])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// Go's `%q` (`strconv.Quote`): a double-quoted string with Go escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
