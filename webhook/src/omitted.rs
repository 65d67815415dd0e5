//! Finding what defaulting added, without building the defaulted spec as JSON: the
//! defaulted spec is serialized through a serializer that walks the sent spec beside
//! it. Where the sent spec has a member, the walk goes on inside it (or stops, at a
//! leaf); where it lacks one, only that member is written, as an `add` of the RFC 6902
//! patch, straight into the patch's JSON text. Building the whole defaulted tree,
//! comparing it and encoding the patch afterwards cost twice as much.

use serde::Serialize;
use serde::ser::{self, Error as _, Serializer};
use serde_json::{Map, Value};

type Error = serde_json::Error;

/// Where the walk is and the patch written so far.
pub struct Found {
    /// The JSON pointer of the current place, escaped (RFC 6901).
    path: String,
    /// The patch's JSON text: `[` and the operations so far, comma-separated.
    text: Vec<u8>,
    ops: usize,
}

impl Found {
    /// A walk whose paths start at `root` (a JSON pointer such as `/spec`).
    pub fn at(root: &str) -> Found {
        Found { path: root.to_string(), text: b"[".to_vec(), ops: 0 }
    }

    /// The patch as JSON text (`[]` when nothing was omitted), and how many operations it holds.
    pub fn into_patch(mut self) -> (Vec<u8>, usize) {
        self.text.push(b']');
        (self.text, self.ops)
    }

    fn push(&mut self, key: &str) {
        self.path.push('/');
        // The spec's own keys never need escaping; only map keys (node selectors) might.
        if !key.contains(['~', '/']) {
            self.path.push_str(key);
            return;
        }
        for c in key.chars() {
            match c {
                '~' => self.path.push_str("~0"),
                '/' => self.path.push_str("~1"),
                c => self.path.push(c),
            }
        }
    }

    /// One member of an object the user sent: an `add` when it was omitted (or null),
    /// the walk inside it when it was sent.
    fn member<T: Serialize + ?Sized>(&mut self, sent: &Map<String, Value>, key: &str, value: &T) -> Result<(), Error> {
        let depth = self.path.len();
        self.push(key);
        let result = match sent.get(key) {
            None | Some(Value::Null) => self.add(value),
            Some(was) => value.serialize(Beside { sent: was, found: self }),
        };
        self.path.truncate(depth);
        result
    }

    fn add<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let rollback = self.text.len();
        if self.ops > 0 {
            self.text.push(b',');
        }
        self.text.extend_from_slice(br#"{"op":"add","path":"#);
        serde_json::to_writer(&mut self.text, &self.path)?;
        self.text.extend_from_slice(br#","value":"#);
        let at = self.text.len();
        serde_json::to_writer(&mut self.text, value)?;
        // A member the defaults leave empty is not added.
        if &self.text[at..] == b"null" {
            self.text.truncate(rollback);
            return Ok(());
        }
        self.text.push(b'}');
        self.ops += 1;
        Ok(())
    }
}

/// Serializes a defaulted value beside `sent`, what the user wrote at the same place.
pub struct Beside<'a> {
    /// The sent value at this place.
    pub sent: &'a Value,
    /// The walk.
    pub found: &'a mut Found,
}

impl<'a> Beside<'a> {
    /// serde also reads a struct from an array (`jwt: [{name: jwt}]`); the apiserver could
    /// not apply a patch into that, so a member to fill inside a non-object is a schema error.
    fn object(self) -> Result<Members<'a>, Error> {
        match self.sent {
            Value::Object(sent) => Ok(Members { sent, found: self.found, key: None }),
            _ => Err(Error::custom(format!("spec does not match the schema: {} is not an object", self.found.path))),
        }
    }
}

/// The members of a sent object, as the defaulted one's are serialized.
pub struct Members<'a> {
    sent: &'a Map<String, Value>,
    found: &'a mut Found,
    key: Option<String>,
}

/// Arrays and scalars the user sent are kept whole: nothing inside them is filled.
pub struct Kept;

macro_rules! kept {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), Error> { Ok(()) })*
    };
}

impl<'a> Serializer for Beside<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Kept;
    type SerializeTuple = Kept;
    type SerializeTupleStruct = Kept;
    type SerializeTupleVariant = Kept;
    type SerializeMap = Members<'a>;
    type SerializeStruct = Members<'a>;
    type SerializeStructVariant = Kept;

    kept!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Kept, Error> {
        Ok(Kept)
    }
    fn serialize_tuple(self, _: usize) -> Result<Kept, Error> {
        Ok(Kept)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Kept, Error> {
        Ok(Kept)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Kept, Error> {
        Ok(Kept)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Members<'a>, Error> {
        self.object()
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Members<'a>, Error> {
        self.object()
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Kept, Error> {
        Ok(Kept)
    }
}

impl ser::SerializeStruct for Members<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.found.member(self.sent, key, value)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeMap for Members<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // The spec's maps (resources, node selectors) have string keys.
        self.key = Some(match serde_json::to_value(key)? {
            Value::String(key) => key,
            other => other.to_string(),
        });
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| Error::custom("a map value came without its key"))?;
        self.found.member(self.sent, &key, value)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

macro_rules! kept_compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for Kept {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Error> {
                Ok(())
            }
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        })*
    };
}

kept_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
);

impl ser::SerializeTupleVariant for Kept {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Error> {
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Kept {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, _: &T) -> Result<(), Error> {
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn walk(defaulted: &Value, sent: &Value) -> Result<Value, Error> {
        let mut found = Found::at("/spec");
        defaulted.serialize(Beside { sent, found: &mut found })?;
        serde_json::from_slice(&found.into_patch().0)
    }

    #[test]
    fn omitted_members_are_added_under_escaped_pointers() {
        let defaulted = json!({"a/b": {"c~d": 1, "kept": [1, 2], "empty": null}, "new": {"x": "y"}});
        let sent = json!({"a/b": {"kept": [3]}});
        let patch = walk(&defaulted, &sent).unwrap();
        assert_eq!(
            patch,
            json!([
                {"op": "add", "path": "/spec/a~1b/c~0d", "value": 1},
                {"op": "add", "path": "/spec/new", "value": {"x": "y"}},
            ])
        );
        let mut object = json!({"spec": sent});
        let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
        json_patch::patch(&mut object, &patch).unwrap();
        assert_eq!(object["spec"]["a/b"]["c~d"], 1);
        assert_eq!(object["spec"]["a/b"]["kept"], json!([3]), "a sent array is kept whole");
    }

    #[test]
    fn nothing_omitted_gives_an_empty_patch_and_a_non_object_is_named() {
        let spec = json!({"a": {"b": 1}});
        assert_eq!(walk(&spec, &spec).unwrap(), json!([]));
        let e = walk(&spec, &json!({"a": [{"b": 1}]})).unwrap_err();
        assert!(e.to_string().contains("/spec/a is not an object"), "{e}");
    }
}
