//! Sprig's dict functions, and `index` (replacing the built-in) so that a missing key of a
//! string map (`.Annotations`, `.Labels`) gives "" as Go's `map[string]string` does, where
//! gotmpl would give nil (which prints `<no value>` and is not `eq` to "").
//!
//! Dicts are values: `set` and `unset` return the changed dict instead of changing the one
//! they were given (write `{{ $d = set $d "k" "v" }}`).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, Value};

use super::{add, arity, at_least, fail, list_of, map, string, text};

type Dict = BTreeMap<Arc<str>, Value>;

pub fn register(m: &mut FuncMap) {
    add(m, "index", |a| {
        at_least("index", a, 1)?;
        let mut v = a[0].clone();
        for key in &a[1..] {
            v = match (&v, key) {
                (Value::Map(d), Value::String(k)) => d.get(k).cloned().unwrap_or_else(|| missing(d)),
                _ => v.index(key)?,
            };
        }
        Ok(v)
    });
    // `dict K V ...`: a key without a value gets "".
    add(m, "dict", |a| Ok(dict(a.chunks(2).map(|kv| (key(&kv[0]), kv.get(1).cloned().unwrap_or_else(|| string("")))))));
    add(m, "get", |a| {
        arity("get", a, 2)?;
        Ok(map("get", &a[0])?.get(&*text(&a[1])).cloned().unwrap_or_else(|| string("")))
    });
    add(m, "set", |a| {
        arity("set", a, 3)?;
        let mut d = map("set", &a[0])?.clone();
        d.insert(key(&a[1]), a[2].clone());
        Ok(Value::Map(Arc::new(d)))
    });
    add(m, "unset", |a| {
        arity("unset", a, 2)?;
        let mut d = map("unset", &a[0])?.clone();
        d.remove(&*text(&a[1]));
        Ok(Value::Map(Arc::new(d)))
    });
    add(m, "hasKey", |a| {
        arity("hasKey", a, 2)?;
        Ok(Value::Bool(map("hasKey", &a[0])?.contains_key(&*text(&a[1]))))
    });
    // Sorted, where sprig's order is Go's random map order.
    add(m, "keys", |a| {
        let mut keys = Vec::new();
        for d in a {
            keys.extend(map("keys", d)?.keys().map(|k| Value::String(k.clone())));
        }
        Ok(list_of(keys))
    });
    add(m, "values", |a| {
        arity("values", a, 1)?;
        Ok(list_of(map("values", &a[0])?.values().cloned()))
    });
    add(m, "pluck", |a| {
        at_least("pluck", a, 1)?;
        let k = text(&a[0]);
        let mut out = Vec::new();
        for d in &a[1..] {
            out.extend(map("pluck", d)?.get(&*k).cloned());
        }
        Ok(list_of(out))
    });
    add(m, "pick", |a| {
        at_least("pick", a, 1)?;
        let names: Vec<_> = a[1..].iter().map(|k| text(k).into_owned()).collect();
        Ok(dict(map("pick", &a[0])?.iter().filter(|(k, _)| names.iter().any(|n| n == &***k)).map(|(k, v)| (k.clone(), v.clone()))))
    });
    add(m, "omit", |a| {
        at_least("omit", a, 1)?;
        let names: Vec<_> = a[1..].iter().map(|k| text(k).into_owned()).collect();
        Ok(dict(map("omit", &a[0])?.iter().filter(|(k, _)| !names.iter().any(|n| n == &***k)).map(|(k, v)| (k.clone(), v.clone()))))
    });
    // `merge DST SRC...`: the first dict holding a key wins; `mergeOverwrite`: the last.
    add(m, "merge", |a| merged("merge", a, false));
    add(m, "mergeOverwrite", |a| merged("mergeOverwrite", a, true));
    // `dig K1 K2 ... DEFAULT DICT`: nested lookup.
    add(m, "dig", |a| {
        at_least("dig", a, 3)?;
        let (keys, default, mut v) = (&a[..a.len() - 2], &a[a.len() - 2], &a[a.len() - 1]);
        for k in keys {
            match map("dig", v)?.get(&*text(k)) {
                Some(next) => v = next,
                None => return Ok(default.clone()),
            }
        }
        Ok(v.clone())
    });
}

/// What `index` gives for a key a dict lacks: "" for a map of strings, else nil.
fn missing(d: &Dict) -> Value {
    if d.values().all(|v| matches!(v, Value::String(_))) { string("") } else { Value::Nil }
}

fn key(v: &Value) -> Arc<str> {
    match v {
        Value::String(s) => s.clone(),
        other => text(other).into(),
    }
}

fn dict(entries: impl IntoIterator<Item = (Arc<str>, Value)>) -> Value {
    Value::Map(Arc::new(entries.into_iter().collect()))
}

fn merged(name: &str, dicts: &[Value], overwrite: bool) -> gotmpl::Result<Value> {
    let mut out = Dict::new();
    for d in dicts {
        for (k, v) in map(name, d)? {
            if overwrite || !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if dicts.is_empty() {
        return Err(fail(name, "no dict given"));
    }
    Ok(Value::Map(Arc::new(out)))
}
