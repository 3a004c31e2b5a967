//! The hermetic text functions of sprig (Masterminds/sprig v3) that a mapping template can
//! use, and the argument conversions they share. Nothing here reads the clock, the
//! environment or a random source: a template maps the same image to the same place.
//!
//! Sprig's convention holds throughout: the value a pipeline passes is the last argument
//! (`{{ .Source | trimPrefix "docker.io/" }}` is `trimPrefix "docker.io/" .Source`).

mod dicts;
mod lists;
mod regex;
mod strings;
mod values;

use std::borrow::Cow;
use std::sync::Arc;

use gotmpl::{FuncMap, Result, TemplateError, Value};

/// Every function of this module, by its template name.
pub fn functions() -> FuncMap {
    let mut m = FuncMap::new();
    strings::register(&mut m);
    lists::register(&mut m);
    dicts::register(&mut m);
    regex::register(&mut m);
    values::register(&mut m);
    m
}

/// Adds `f` under `name`.
fn add(m: &mut FuncMap, name: &str, f: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static) {
    m.insert(name.to_owned(), Arc::new(f));
}

/// An error raised by the function `name`.
fn fail(name: &str, why: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("{name}: {why}"))
}

/// Exactly `n` arguments.
pub fn arity(name: &str, args: &[Value], n: usize) -> Result<()> {
    if args.len() == n { Ok(()) } else { Err(TemplateError::ArgCount { name: name.to_owned(), expected: n, got: args.len() }) }
}

/// At least `n` arguments.
fn at_least(name: &str, args: &[Value], n: usize) -> Result<()> {
    if args.len() >= n { Ok(()) } else { Err(TemplateError::ArgCount { name: name.to_owned(), expected: n, got: args.len() }) }
}

/// A value as text: a string as is, nil as "" (where Go would pass a string's zero value),
/// anything else as Go's `%v` prints it.
pub fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Nil => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

/// A value as an integer, as sprig's `toInt` (spf13/cast) converts it: a string that does
/// not parse, and nil, are 0.
fn int(v: &Value) -> i64 {
    match v {
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_int(s.trim()).unwrap_or(0),
        other => other.as_int().unwrap_or(0),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, or `0x`, `0o`, `0b` and leading-`0` octal.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits = digits.replace('_', "");
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let n = i64::from_str_radix(body, radix).ok()?;
    Some(if negative { -n } else { n })
}

/// A list argument; anything else is an error naming the function.
fn list<'v>(name: &str, v: &'v Value) -> Result<&'v [Value]> {
    match v {
        Value::List(items) => Ok(items),
        other => Err(fail(name, format!("cannot use type {} as a list", other.type_name()))),
    }
}

/// A map argument; anything else is an error naming the function.
fn map<'v>(name: &str, v: &'v Value) -> Result<&'v std::collections::BTreeMap<Arc<str>, Value>> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(fail(name, format!("cannot use type {} as a dict", other.type_name()))),
    }
}

/// A string value.
fn string(s: impl Into<Arc<str>>) -> Value {
    Value::String(s.into())
}

/// A list value.
fn list_of(items: impl IntoIterator<Item = Value>) -> Value {
    Value::List(items.into_iter().collect::<Vec<_>>().into())
}
