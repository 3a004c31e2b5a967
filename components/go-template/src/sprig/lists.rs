//! Sprig's list functions, and the string functions that make or consume lists (`split`,
//! `splitList`, `join`, `sortAlpha`). Lists are values: `append` returns a new list.

use gotmpl::{FuncMap, Value};

use super::{add, arity, at_least, fail, int, list, list_of, string, text};

/// The longest list `until` and `untilStep` make: a backstop below the sandbox's memory limit.
const MAX_LEN: u64 = 1_000_000;

pub fn register(m: &mut FuncMap) {
    add(m, "list", |a| Ok(list_of(a.iter().cloned())));
    add(m, "first", |a| {
        arity("first", a, 1)?;
        Ok(list("first", &a[0])?.first().cloned().unwrap_or(Value::Nil))
    });
    add(m, "last", |a| {
        arity("last", a, 1)?;
        Ok(list("last", &a[0])?.last().cloned().unwrap_or(Value::Nil))
    });
    add(m, "rest", |a| {
        arity("rest", a, 1)?;
        Ok(list_of(list("rest", &a[0])?.iter().skip(1).cloned()))
    });
    add(m, "initial", |a| {
        arity("initial", a, 1)?;
        let l = list("initial", &a[0])?;
        Ok(list_of(l[..l.len().saturating_sub(1)].iter().cloned()))
    });
    for name in ["append", "push"] {
        add(m, name, move |a| {
            arity(name, a, 2)?;
            Ok(list_of(list(name, &a[0])?.iter().chain([&a[1]]).cloned()))
        });
    }
    add(m, "prepend", |a| {
        arity("prepend", a, 2)?;
        Ok(list_of([&a[1]].into_iter().chain(list("prepend", &a[0])?).cloned()))
    });
    add(m, "concat", |a| {
        let mut out = Vec::new();
        for l in a {
            out.extend(list("concat", l)?.iter().cloned());
        }
        Ok(list_of(out))
    });
    add(m, "reverse", |a| {
        arity("reverse", a, 1)?;
        Ok(list_of(list("reverse", &a[0])?.iter().rev().cloned()))
    });
    add(m, "uniq", |a| {
        arity("uniq", a, 1)?;
        let mut out: Vec<Value> = Vec::new();
        for v in list("uniq", &a[0])? {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        Ok(list_of(out))
    });
    add(m, "without", |a| {
        at_least("without", a, 1)?;
        Ok(list_of(list("without", &a[0])?.iter().filter(|v| !a[1..].contains(v)).cloned()))
    });
    // `has NEEDLE LIST`: the list is last, so it can be piped.
    add(m, "has", |a| {
        arity("has", a, 2)?;
        Ok(Value::Bool(list("has", &a[1])?.contains(&a[0])))
    });
    add(m, "compact", |a| {
        arity("compact", a, 1)?;
        Ok(list_of(list("compact", &a[0])?.iter().filter(|v| v.is_truthy()).cloned()))
    });
    add(m, "splitList", |a| {
        arity("splitList", a, 2)?;
        Ok(list_of(text(&a[1]).split(&*text(&a[0])).map(string)))
    });
    // `split SEP S`: a dict of the parts, keyed `_0`, `_1`, …
    add(m, "split", |a| {
        arity("split", a, 2)?;
        let parts = text(&a[1]).split(&*text(&a[0])).enumerate().map(|(i, p)| (format!("_{i}").into(), string(p))).collect();
        Ok(Value::Map(std::sync::Arc::new(parts)))
    });
    add(m, "join", |a| {
        arity("join", a, 2)?;
        let items = match &a[1] {
            Value::List(l) => l.iter().filter(|v| !matches!(v, Value::Nil)).map(|v| text(v).into_owned()).collect(),
            other => vec![text(other).into_owned()],
        };
        Ok(string(items.join(&*text(&a[0]))))
    });
    add(m, "sortAlpha", |a| {
        arity("sortAlpha", a, 1)?;
        let mut items: Vec<String> = list("sortAlpha", &a[0])?.iter().map(|v| text(v).into_owned()).collect();
        items.sort();
        Ok(list_of(items.into_iter().map(string)))
    });
    add(m, "toStrings", |a| {
        arity("toStrings", a, 1)?;
        Ok(list_of(list("toStrings", &a[0])?.iter().map(|v| string(text(v)))))
    });
    add(m, "until", |a| {
        arity("until", a, 1)?;
        let n = int(&a[0]);
        steps("until", 0, n, if n < 0 { -1 } else { 1 })
    });
    add(m, "untilStep", |a| {
        arity("untilStep", a, 3)?;
        steps("untilStep", int(&a[0]), int(&a[1]), int(&a[2]))
    });
}

/// `start, start+step, …` up to `stop` (excluded); sprig gives an empty list for a step that
/// never reaches it.
fn steps(name: &str, start: i64, stop: i64, step: i64) -> gotmpl::Result<Value> {
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return Ok(list_of([]));
    }
    let len = stop.abs_diff(start).div_ceil(step.unsigned_abs());
    if len > MAX_LEN {
        return Err(fail(name, format!("a list of {len} numbers is more than {MAX_LEN}")));
    }
    Ok(list_of((0..len as i64).map(|i| Value::Int(start + i * step))))
}
