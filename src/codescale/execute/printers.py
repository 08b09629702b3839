# ruff: noqa: E501
"""The JSON printers the harnesses append to a program, as source text of Java, C# and Rust.

Kept apart from codescale.execute.harness because they are other languages' code (long lines are
theirs). Each serialises what an entry function returns: null/None/Optional.empty as null,
booleans, integers, floating point (round-trip text), strings (JSON escapes), lists/arrays/sets,
maps (keys as strings), Rust tuples as arrays. Python uses json, JavaScript JSON.stringify and Go
encoding/json instead.
"""

JAVA_PRINTER = r"""
class CodescaleJson {
    static String dump(Object o) {
        if (o == null) return "null";
        if (o instanceof Optional) { Optional<?> p = (Optional<?>) o; return p.isPresent() ? dump(p.get()) : "null"; }
        if (o instanceof Boolean || o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) return o.toString();
        if (o instanceof java.math.BigInteger || o instanceof java.math.BigDecimal) return o.toString();
        if (o instanceof Double || o instanceof Float) return o.toString();
        if (o instanceof String || o instanceof Character) return str(o.toString());
        if (o instanceof Map) {
            StringBuilder b = new StringBuilder("{"); boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                if (!first) b.append(","); first = false;
                b.append(str(String.valueOf(e.getKey()))).append(":").append(dump(e.getValue()));
            }
            return b.append("}").toString();
        }
        if (o instanceof Iterable) {
            StringBuilder b = new StringBuilder("["); boolean first = true;
            for (Object x : (Iterable<?>) o) { if (!first) b.append(","); first = false; b.append(dump(x)); }
            return b.append("]").toString();
        }
        if (o.getClass().isArray()) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < java.lang.reflect.Array.getLength(o); i++) { if (i > 0) b.append(","); b.append(dump(java.lang.reflect.Array.get(o, i))); }
            return b.append("]").toString();
        }
        return str(o.toString());
    }
    static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 32) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append("\"").toString();
    }
}
"""

CS_PRINTER = r"""
static class CodescaleJson {
    public static string Dump(object o) {
        if (o == null) return "null";
        if (o is bool) return ((bool) o) ? "true" : "false";
        if (o is string || o is char) return Str(o.ToString());
        if (o is double) return ((double) o).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (o is float) return ((float) o).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (o is int || o is long || o is short || o is byte || o is uint || o is ulong || o is decimal || o is System.Numerics.BigInteger)
            return Convert.ToString(o, System.Globalization.CultureInfo.InvariantCulture);
        if (o is System.Collections.IDictionary) {
            var b = new StringBuilder("{"); bool first = true;
            foreach (System.Collections.DictionaryEntry e in (System.Collections.IDictionary) o) {
                if (!first) b.Append(","); first = false;
                b.Append(Str(Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture))).Append(":").Append(Dump(e.Value));
            }
            return b.Append("}").ToString();
        }
        if (o is System.Collections.IEnumerable) {
            var b = new StringBuilder("["); bool first = true;
            foreach (object x in (System.Collections.IEnumerable) o) { if (!first) b.Append(","); first = false; b.Append(Dump(x)); }
            return b.Append("]").ToString();
        }
        return Str(o.ToString());
    }
    static string Str(string s) {
        var b = new StringBuilder("\"");
        foreach (char c in s) {
            if (c == '"' || c == '\\') b.Append('\\').Append(c);
            else if (c < 32) b.Append(string.Format("\\u{0:x4}", (int) c));
            else b.Append(c);
        }
        return b.Append("\"").ToString();
    }
}
"""

RUST_PRINTER = r"""
mod codescale_json {
    use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
    pub trait ToJson { fn to_json(&self) -> String; }
    macro_rules! ints { ($($t:ty),*) => { $(impl ToJson for $t { fn to_json(&self) -> String { self.to_string() } })* } }
    ints!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);
    impl ToJson for f64 { fn to_json(&self) -> String { format!("{:?}", self) } }
    impl ToJson for f32 { fn to_json(&self) -> String { format!("{:?}", self) } }
    impl ToJson for bool { fn to_json(&self) -> String { self.to_string() } }
    pub fn s(x: &str) -> String {
        let mut o = String::from("\"");
        for c in x.chars() {
            match c { '"' => o.push_str("\\\""), '\\' => o.push_str("\\\\"),
                c if (c as u32) < 32 => o.push_str(&format!("\\u{:04x}", c as u32)), c => o.push(c) }
        }
        o.push('"'); o
    }
    impl ToJson for String { fn to_json(&self) -> String { s(self) } }
    impl ToJson for str { fn to_json(&self) -> String { s(self) } }
    impl ToJson for char { fn to_json(&self) -> String { s(&self.to_string()) } }
    impl<T: ToJson + ?Sized> ToJson for &T { fn to_json(&self) -> String { (**self).to_json() } }
    impl<T: ToJson + ?Sized> ToJson for Box<T> { fn to_json(&self) -> String { (**self).to_json() } }
    impl<T: ToJson> ToJson for Option<T> {
        fn to_json(&self) -> String { match self { Some(x) => x.to_json(), None => "null".into() } }
    }
    fn list<'a, T: ToJson + 'a>(it: impl Iterator<Item = &'a T>) -> String {
        format!("[{}]", it.map(|x| x.to_json()).collect::<Vec<_>>().join(","))
    }
    impl<T: ToJson> ToJson for [T] { fn to_json(&self) -> String { list(self.iter()) } }
    impl<T: ToJson> ToJson for Vec<T> { fn to_json(&self) -> String { list(self.iter()) } }
    impl<T: ToJson> ToJson for VecDeque<T> { fn to_json(&self) -> String { list(self.iter()) } }
    impl<T: ToJson> ToJson for HashSet<T> { fn to_json(&self) -> String { list(self.iter()) } }
    impl<A: ToJson, B: ToJson> ToJson for (A, B) {
        fn to_json(&self) -> String { format!("[{},{}]", self.0.to_json(), self.1.to_json()) }
    }
    impl<A: ToJson, B: ToJson, C: ToJson> ToJson for (A, B, C) {
        fn to_json(&self) -> String { format!("[{},{},{}]", self.0.to_json(), self.1.to_json(), self.2.to_json()) }
    }
    fn key<K: ToJson>(k: &K) -> String { let j = k.to_json(); if j.starts_with('"') { j } else { s(&j) } }
    impl<K: ToJson, V: ToJson> ToJson for HashMap<K, V> {
        fn to_json(&self) -> String {
            format!("{{{}}}", self.iter().map(|(k, v)| format!("{}:{}", key(k), v.to_json())).collect::<Vec<_>>().join(","))
        }
    }
    impl<K: ToJson, V: ToJson> ToJson for BTreeMap<K, V> {
        fn to_json(&self) -> String {
            format!("{{{}}}", self.iter().map(|(k, v)| format!("{}:{}", key(k), v.to_json())).collect::<Vec<_>>().join(","))
        }
    }
}
"""
