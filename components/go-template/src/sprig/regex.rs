//! Sprig's regular-expression functions, on the `regex` crate (RE2 syntax, as Go's
//! `regexp`). An invalid expression fails the template, naming the function; sprig's
//! `regexMatch` would say false instead. Compiled expressions are kept per instance.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use gotmpl::{FuncMap, Result, Value};
use regex_lite::{NoExpand, Regex};

use super::{add, arity, fail, int, list_of, string, text};

/// Expressions compiled so far; a template names a handful, so this stays small.
static COMPILED: OnceLock<Mutex<HashMap<String, Regex>>> = OnceLock::new();

/// At most this many kept: a template that builds expressions from the data does not grow
/// the cache without bound.
const KEPT: usize = 64;

fn compiled(name: &str, pattern: &str) -> Result<Regex> {
    let cache = COMPILED.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(re) = cache.get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern).map_err(|e| fail(name, format!("invalid regular expression {pattern:?}: {e}")))?;
    if cache.len() >= KEPT {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

/// At most `n` items (`n < 0`: all), as Go's `FindAll` and `Split` count.
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

pub fn register(m: &mut FuncMap) {
    add(m, "regexMatch", |a| {
        arity("regexMatch", a, 2)?;
        Ok(Value::Bool(compiled("regexMatch", &text(&a[0]))?.is_match(&text(&a[1]))))
    });
    add(m, "regexFind", |a| {
        arity("regexFind", a, 2)?;
        let s = text(&a[1]);
        Ok(string(compiled("regexFind", &text(&a[0]))?.find(&s).map_or("", |m| m.as_str())))
    });
    add(m, "regexFindAll", |a| {
        arity("regexFindAll", a, 3)?;
        let s = text(&a[1]);
        let re = compiled("regexFindAll", &text(&a[0]))?;
        Ok(list_of(re.find_iter(&s).take(limit(int(&a[2]))).map(|m| string(m.as_str()))))
    });
    // `regexReplaceAll RE S REPL`: `$1` and `${name}` expand, as in Go.
    add(m, "regexReplaceAll", |a| {
        arity("regexReplaceAll", a, 3)?;
        let re = compiled("regexReplaceAll", &text(&a[0]))?;
        Ok(string(re.replace_all(&text(&a[1]), &*text(&a[2])).into_owned()))
    });
    add(m, "regexReplaceAllLiteral", |a| {
        arity("regexReplaceAllLiteral", a, 3)?;
        let re = compiled("regexReplaceAllLiteral", &text(&a[0]))?;
        Ok(string(re.replace_all(&text(&a[1]), NoExpand(&text(&a[2]))).into_owned()))
    });
    add(m, "regexSplit", |a| {
        arity("regexSplit", a, 3)?;
        let (s, n) = (text(&a[1]), int(&a[2]));
        let re = compiled("regexSplit", &text(&a[0]))?;
        Ok(match n {
            0 => list_of([]),
            n if n < 0 => list_of(re.split(&s).map(string)),
            n => list_of(re.splitn(&s, limit(n)).map(string)),
        })
    });
    add(m, "regexQuoteMeta", |a| {
        arity("regexQuoteMeta", a, 1)?;
        Ok(string(quote_meta(&text(&a[0]))))
    });
}

/// Go's `regexp.QuoteMeta`: a backslash before each of `\.+*?()|[]{}^$` (the regex crate's
/// `escape` also escapes `#&-~`, which Go leaves).
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
