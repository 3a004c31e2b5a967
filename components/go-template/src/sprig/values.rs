//! Sprig's defaults (`default`, `empty`, `coalesce`, `ternary`, `fail`, `required`), type
//! conversions, integer arithmetic, and the encodings (base64, sha256, JSON).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gotmpl::{FuncMap, Result, TemplateError, Value};
use sha2::Digest as _;

use super::{add, arity, at_least, fail, int, string, text};

pub fn register(m: &mut FuncMap) {
    // `default D V`: D when V is empty (nil, false, 0, "", an empty list or dict).
    add(m, "default", |a| {
        at_least("default", a, 1)?;
        Ok(match a.get(1) {
            Some(v) if v.is_truthy() => v.clone(),
            _ => a[0].clone(),
        })
    });
    add(m, "empty", |a| {
        arity("empty", a, 1)?;
        Ok(Value::Bool(!a[0].is_truthy()))
    });
    add(m, "coalesce", |a| Ok(a.iter().find(|v| v.is_truthy()).cloned().unwrap_or(Value::Nil)));
    add(m, "all", |a| Ok(Value::Bool(a.iter().all(Value::is_truthy))));
    add(m, "any", |a| Ok(Value::Bool(a.iter().any(Value::is_truthy))));
    add(m, "ternary", |a| {
        arity("ternary", a, 3)?;
        Ok(if a[2].is_truthy() { a[0].clone() } else { a[1].clone() })
    });
    add(m, "fail", |a| {
        arity("fail", a, 1)?;
        Err(TemplateError::Exec(format!("fail: {}", text(&a[0]))))
    });
    add(m, "required", |a| {
        arity("required", a, 2)?;
        match &a[1] {
            Value::Nil => Err(TemplateError::Exec(format!("required: {}", text(&a[0])))),
            Value::String(s) if s.is_empty() => Err(TemplateError::Exec(format!("required: {}", text(&a[0])))),
            v => Ok(v.clone()),
        }
    });

    // Conversions: what does not parse is 0, as sprig's (spf13/cast) are.
    add(m, "atoi", |a| {
        arity("atoi", a, 1)?;
        Ok(Value::Int(text(&a[0]).parse().unwrap_or(0)))
    });
    for name in ["int", "int64"] {
        add(m, name, move |a| {
            arity(name, a, 1)?;
            Ok(Value::Int(int(&a[0])))
        });
    }
    add(m, "float64", |a| {
        arity("float64", a, 1)?;
        Ok(Value::Float(match &a[0] {
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            v => v.as_float().unwrap_or(0.0),
        }))
    });

    // Integer arithmetic, on sprig's int64 conversion of every argument.
    fold(m, "add", |x, y| x.checked_add(y));
    fold(m, "mul", |x, y| x.checked_mul(y));
    fold(m, "max", |x, y| Some(x.max(y)));
    fold(m, "min", |x, y| Some(x.min(y)));
    pair(m, "sub", i64::checked_sub);
    pair(m, "div", i64::checked_div);
    pair(m, "mod", i64::checked_rem);
    add(m, "add1", |a| {
        arity("add1", a, 1)?;
        int(&a[0]).checked_add(1).map(Value::Int).ok_or_else(|| fail("add1", "overflow"))
    });

    add(m, "b64enc", |a| {
        arity("b64enc", a, 1)?;
        Ok(string(BASE64.encode(text(&a[0]).as_bytes())))
    });
    // Bytes that are not UTF-8 become U+FFFD; sprig reports an error as the text instead.
    add(m, "b64dec", |a| {
        arity("b64dec", a, 1)?;
        let bytes = BASE64.decode(text(&a[0]).as_bytes()).map_err(|e| fail("b64dec", e))?;
        Ok(string(String::from_utf8_lossy(&bytes)))
    });
    add(m, "sha256sum", |a| {
        arity("sha256sum", a, 1)?;
        let sum = sha2::Sha256::digest(text(&a[0]).as_bytes());
        Ok(string(sum.iter().map(|b| format!("{b:02x}")).collect::<String>()))
    });
    add(m, "toJson", |a| json("toJson", a, false, true));
    add(m, "toPrettyJson", |a| json("toPrettyJson", a, true, true));
    add(m, "toRawJson", |a| json("toRawJson", a, false, false));
    add(m, "fromJson", |a| {
        arity("fromJson", a, 1)?;
        let parsed: serde_json::Value = serde_json::from_str(&text(&a[0])).map_err(|e| fail("fromJson", e))?;
        Ok(from_json(parsed))
    });
}

fn fold(m: &mut FuncMap, name: &'static str, f: fn(i64, i64) -> Option<i64>) {
    add(m, name, move |a| {
        at_least(name, a, 1)?;
        let mut acc = int(&a[0]);
        for v in &a[1..] {
            acc = f(acc, int(v)).ok_or_else(|| fail(name, "overflow"))?;
        }
        Ok(Value::Int(acc))
    });
}

fn pair(m: &mut FuncMap, name: &'static str, f: fn(i64, i64) -> Option<i64>) {
    add(m, name, move |a| {
        arity(name, a, 2)?;
        let (x, y) = (int(&a[0]), int(&a[1]));
        if y == 0 && name != "sub" {
            return Err(fail(name, "division by zero"));
        }
        f(x, y).map(Value::Int).ok_or_else(|| fail(name, "overflow"))
    });
}

/// Go's `json.Marshal` (keys sorted); `html_safe` escapes `<`, `>` and `&` as Go's encoder
/// does by default (sprig's `toRawJson` does not).
fn json(name: &str, a: &[Value], pretty: bool, html_safe: bool) -> Result<Value> {
    arity(name, a, 1)?;
    let v = to_json(name, &a[0])?;
    let out = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.map_err(|e| fail(name, e))?;
    if !html_safe {
        return Ok(string(out));
    }
    // These characters only occur inside JSON strings, where the escape means the same.
    let mut escaped = String::with_capacity(out.len());
    for c in out.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    Ok(string(escaped))
}

fn to_json(name: &str, v: &Value) -> Result<serde_json::Value> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Uint(n) => J::from(*n),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).ok_or_else(|| fail(name, format!("unsupported value {f}")))?,
        Value::String(s) => J::String(s.to_string()),
        Value::List(items) => J::Array(items.iter().map(|i| to_json(name, i)).collect::<Result<_>>()?),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| Ok((k.to_string(), to_json(name, v)?))).collect::<Result<_>>()?),
        Value::Function(_) => return Err(fail(name, "cannot encode a function")),
    })
}

/// JSON as template values; integers stay integers (Go would make every number a float64).
fn from_json(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => {
            n.as_i64().map(Value::Int).or_else(|| n.as_u64().map(Value::Uint)).unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)))
        }
        J::String(s) => string(s),
        J::Array(items) => Value::List(items.into_iter().map(from_json).collect::<Vec<_>>().into()),
        J::Object(m) => Value::Map(Arc::new(m.into_iter().map(|(k, v)| (Arc::from(k), from_json(v))).collect())),
    }
}
