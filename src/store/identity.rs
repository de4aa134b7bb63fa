//! The identity of a stored fact, hashed from the fact itself rather than from its JSON: an
//! unchanged night compares every fact of a source with its alive rows, and turning each into JSON
//! only to hash it (escaping every excerpt on the way) was most of what such a night cost.
//!
//! The bytes hashed are a private, unambiguous encoding of serde's data model: every value starts
//! with a tag byte, strings and byte strings carry their length, compound values end with an end
//! tag. Two facts with the same encoding therefore serialize to the same JSON. The encoding is never
//! stored, only its hash (`fact_rows.hash`), so it may change together with that column's meaning.
//!
//! With `cut` set, the `source` and `payload` fields of every `Origin` are left out, as the stored
//! data leaves them out (see `facts.rs`); the caller checks that every origin of the fact was cut.

use serde::Serialize;
use serde::ser;
use sha2::{Digest, Sha256};

/// The first 128 bits of SHA-256 over kind, payload position and the fact's encoding.
pub(super) type Identity = [u8; 16];

/// The serde name of the model's `Origin` and the two fields a stored row leaves out.
const ORIGIN: &str = "Origin";
const CUT_FIELDS: [&str; 2] = ["source", "payload"];

/// Hashes facts, reusing one buffer for all of them.
#[derive(Default)]
pub(super) struct IdentityHasher {
    buf: Vec<u8>,
}

impl IdentityHasher {
    /// The identity of `item` stored at `position`, and how many `Origin`s lost their source and
    /// payload (always 0 without a position).
    pub(super) fn identity<T: Serialize>(
        &mut self,
        kind: &str,
        position: Option<i64>,
        item: &T,
    ) -> Result<(Identity, usize), Error> {
        self.buf.clear();
        let mut enc = Encoding { out: &mut self.buf, cut: position.is_some(), origins_cut: 0 };
        item.serialize(&mut enc)?;
        let origins_cut = enc.origins_cut;
        let mut h = Sha256::new();
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(position.unwrap_or(-1).to_le_bytes());
        h.update(&self.buf);
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Ok((id, origins_cut))
    }
}

/// A value the encoding cannot represent (a custom `Serialize` reporting its own error).
#[derive(Debug)]
pub(super) struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        Error(msg.to_string())
    }
}

/// Tags of the encoding: one per kind of serde value.
mod tag {
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const UINT: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const STR: u8 = 5;
    pub const BYTES: u8 = 6;
    pub const NONE: u8 = 7;
    pub const SOME: u8 = 8;
    pub const UNIT: u8 = 9;
    pub const VARIANT: u8 = 10;
    pub const NEWTYPE: u8 = 11;
    pub const SEQ: u8 = 12;
    pub const MAP: u8 = 13;
    pub const STRUCT: u8 = 14;
    pub const FIELD: u8 = 15;
    pub const END: u8 = 16;
    pub const INT128: u8 = 17;
    pub const UINT128: u8 = 18;
}

struct Encoding<'b> {
    out: &'b mut Vec<u8>,
    cut: bool,
    origins_cut: usize,
}

impl Encoding<'_> {
    fn str(&mut self, tag: u8, s: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        self.out.extend_from_slice(s);
    }

    fn int(&mut self, v: i64) {
        self.out.push(tag::INT);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn uint(&mut self, v: u64) {
        self.out.push(tag::UINT);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    fn variant(&mut self, name: &str, variant: &str) {
        self.out.push(tag::VARIANT);
        self.str(tag::STR, name.as_bytes());
        self.str(tag::STR, variant.as_bytes());
    }
}

type Ok = ();

impl<'a, 'b> ser::Serializer for &'a mut Encoding<'b> {
    type Ok = Ok;
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    fn serialize_bool(self, v: bool) -> Result<Ok, Error> {
        self.out.extend_from_slice(&[tag::BOOL, u8::from(v)]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<Ok, Error> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<Ok, Error> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<Ok, Error> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<Ok, Error> {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<Ok, Error> {
        self.out.push(tag::INT128);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<Ok, Error> {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<Ok, Error> {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<Ok, Error> {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<Ok, Error> {
        self.uint(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<Ok, Error> {
        self.out.push(tag::UINT128);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<Ok, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Ok, Error> {
        self.out.push(tag::FLOAT);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<Ok, Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Ok, Error> {
        self.str(tag::STR, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Ok, Error> {
        self.str(tag::BYTES, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<Ok, Error> {
        self.out.push(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Ok, Error> {
        self.out.push(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Ok, Error> {
        self.out.push(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Ok, Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Ok, Error> {
        self.variant(name, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Ok, Error> {
        // JSON writes a newtype struct as its content; so does the identity.
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Ok, Error> {
        self.out.push(tag::NEWTYPE);
        self.variant(name, variant);
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(tag::SEQ);
        Ok(Compound::new(self))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.variant(name, variant);
        self.out.push(tag::SEQ);
        Ok(Compound::new(self))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(tag::MAP);
        Ok(Compound::new(self))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Compound<'a, 'b>, Error> {
        self.out.push(tag::STRUCT);
        let origin = self.cut && name == ORIGIN;
        Ok(Compound { enc: self, origin, cut: 0 })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'b>, Error> {
        self.variant(name, variant);
        self.out.push(tag::STRUCT);
        Ok(Compound::new(self))
    }
}

/// A sequence, map or struct being encoded; for an `Origin` under `cut`, counts the fields left out.
struct Compound<'a, 'b> {
    enc: &'a mut Encoding<'b>,
    origin: bool,
    cut: usize,
}

impl<'a, 'b> Compound<'a, 'b> {
    fn new(enc: &'a mut Encoding<'b>) -> Self {
        Compound { enc, origin: false, cut: 0 }
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<Ok, Error> {
        value.serialize(&mut *self.enc)
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<Ok, Error> {
        if self.origin && CUT_FIELDS.contains(&key) {
            self.cut += 1;
            return Ok(());
        }
        self.enc.str(tag::FIELD, key.as_bytes());
        value.serialize(&mut *self.enc)
    }

    fn end(self) -> Result<Ok, Error> {
        if self.origin && self.cut == CUT_FIELDS.len() {
            self.enc.origins_cut += 1;
        }
        self.enc.out.push(tag::END);
        Ok(())
    }
}

/// Sequences, tuples and tuple structs/variants are all "elements, then END" in the encoding.
macro_rules! elements_then_end {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = Ok;
            type Error = Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<Ok, Error> {
                self.element(value)
            }
            fn end(self) -> Result<Ok, Error> {
                Compound::end(self)
            }
        }
    )*};
}

elements_then_end!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = Ok;
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<Ok, Error> {
        self.element(key)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<Ok, Error> {
        self.element(value)
    }
    fn end(self) -> Result<Ok, Error> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = Ok;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<Ok, Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<Ok, Error> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = Ok;
    type Error = Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<Ok, Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<Ok, Error> {
        Compound::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::IdentityHasher;
    use crate::model::Origin;

    #[derive(serde::Serialize)]
    struct Fact {
        name: String,
        origin: Origin,
        tags: Vec<Option<u32>>,
    }

    fn fact(name: &str, payload: &str, excerpt: &str) -> Fact {
        Fact {
            name: name.into(),
            origin: Origin {
                source: "leaf1".into(),
                payload: payload.into(),
                locator: "/a".into(),
                excerpt: excerpt.into(),
            },
            tags: vec![Some(1), None],
        }
    }

    #[test]
    fn a_positioned_fact_is_the_same_under_another_payload_digest_and_differs_in_anything_else() {
        let mut h = IdentityHasher::default();
        let mut id = |f: &Fact, pos: Option<i64>| h.identity("route", pos, f).unwrap();
        let (a, cut) = id(&fact("x", "aa", "{\"k\":1}"), Some(0));
        assert_eq!(cut, 1);
        assert_eq!(id(&fact("x", "bb", "{\"k\":1}"), Some(0)).0, a);
        assert_ne!(id(&fact("x", "aa", "{\"k\":2}"), Some(0)).0, a);
        assert_ne!(id(&fact("y", "aa", "{\"k\":1}"), Some(0)).0, a);
        assert_ne!(id(&fact("x", "aa", "{\"k\":1}"), Some(1)).0, a);
        // Without a position nothing is left out.
        let (whole, cut) = id(&fact("x", "aa", "{\"k\":1}"), None);
        assert_eq!(cut, 0);
        assert_ne!(id(&fact("x", "bb", "{\"k\":1}"), None).0, whole);
        // Lengths keep neighbouring strings apart.
        assert_ne!(id(&fact("xa", "aa", "b"), None).0, id(&fact("x", "aa", "ab"), None).0);
    }
}
