//! Key codecs: order-preserving encodings (see the table in
//! [`crate::codec`]).

use std::borrow::Borrow;

use super::{decode_error, expect_end, take_fixed};
use crate::Result;

/// An order-preserving encoding of keys of type [`KeyCodec::Owned`].
///
/// The contract, which typed ranges and iteration rely on, for any keys
/// `a` and `b`:
///
/// - `a.cmp(&b) == encode_key(a).cmp(&encode_key(b))` (byte order is key
///   order), and so `encode_key` is one-to-one;
/// - `decode_key(&encode_key(a)) == Ok(a)`;
/// - the nested form is *prefix-free* (no key's nested encoding is a
///   prefix of another's) and order-preserving too, and
///   `decode_key_nested` reads exactly one nested encoding off the front
///   of its input. Tuples use it for every element but the last.
///
/// The codec for the built-in types is the type itself: `u64`,
/// `(String, u32)`. A codec of your own for a newtype over a built-in key
/// can forward to the built-in one:
///
/// ```
/// use vellum::KeyCodec;
///
/// #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
/// struct UserId(u64);
///
/// impl KeyCodec for UserId {
///     type Owned = UserId;
///     type Borrowed = UserId;
///     fn encode_key(key: &UserId, out: &mut Vec<u8>) {
///         u64::encode_key(&key.0, out)
///     }
///     fn decode_key_nested(input: &mut &[u8]) -> vellum::Result<UserId> {
///         u64::decode_key_nested(input).map(UserId)
///     }
/// }
///
/// let mut bytes = Vec::new();
/// UserId::encode_key(&UserId(7), &mut bytes);
/// assert_eq!(bytes, 7u64.to_be_bytes());
/// assert_eq!(UserId::decode_key(&bytes).unwrap(), UserId(7));
/// ```
pub trait KeyCodec {
    /// The type a stored key decodes to.
    type Owned: Ord + Borrow<Self::Borrowed>;
    /// The type encoded: `Owned` itself or a borrowed form of it (`str`
    /// for `String`, `[u8]` for `Vec<u8>`), so that lookups take `&str`.
    /// Its encoding must be that of the `Owned` key it borrows from.
    type Borrowed: ?Sized;

    /// Appends the encoding of `key` as a whole key (or as the last
    /// element of a tuple) to `out`.
    fn encode_key(key: &Self::Borrowed, out: &mut Vec<u8>);

    /// Appends the nested (self-delimiting) encoding of `key` to `out`:
    /// the form of a tuple element that is not the last. The default, the
    /// whole-key encoding, is right for fixed-width encodings.
    fn encode_key_nested(key: &Self::Borrowed, out: &mut Vec<u8>) {
        Self::encode_key(key, out)
    }

    /// Decodes a whole key. The default reads one nested encoding and
    /// requires that nothing is left over, right for fixed-width
    /// encodings.
    fn decode_key(bytes: &[u8]) -> Result<Self::Owned> {
        let mut rest = bytes;
        let key = Self::decode_key_nested(&mut rest)?;
        expect_end::<Self::Owned>(rest)?;
        Ok(key)
    }

    /// Decodes one nested encoding from the front of `input` and advances
    /// `input` past it.
    fn decode_key_nested(input: &mut &[u8]) -> Result<Self::Owned>;
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        /// Big-endian, fixed width.
        impl KeyCodec for $t {
            type Owned = $t;
            type Borrowed = $t;

            fn encode_key(key: &$t, out: &mut Vec<u8>) {
                out.extend_from_slice(&key.to_be_bytes());
            }

            fn decode_key_nested(input: &mut &[u8]) -> Result<$t> {
                let bytes = take_fixed::<{ std::mem::size_of::<$t>() }, $t>(input)?;
                Ok(<$t>::from_be_bytes(bytes))
            }
        }
    )*};
}

unsigned_key!(u8, u16, u32, u64, u128);

macro_rules! signed_key {
    ($($t:ty => $u:ty),*) => {$(
        /// Big-endian with the sign bit flipped, fixed width: negative
        /// numbers sort before positive ones.
        impl KeyCodec for $t {
            type Owned = $t;
            type Borrowed = $t;

            fn encode_key(key: &$t, out: &mut Vec<u8>) {
                let flipped = (*key as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }

            fn decode_key_nested(input: &mut &[u8]) -> Result<$t> {
                let bytes = take_fixed::<{ std::mem::size_of::<$t>() }, $t>(input)?;
                Ok((<$u>::from_be_bytes(bytes) ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}

signed_key!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

/// One byte: 0 for `false`, 1 for `true`.
impl KeyCodec for bool {
    type Owned = bool;
    type Borrowed = bool;

    fn encode_key(key: &bool, out: &mut Vec<u8>) {
        out.push(u8::from(*key));
    }

    fn decode_key_nested(input: &mut &[u8]) -> Result<bool> {
        match take_fixed::<1, bool>(input)? {
            [0] => Ok(false),
            [1] => Ok(true),
            [b] => Err(decode_error::<bool>(format!(
                "byte {b:#04x} is neither 0 nor 1"
            ))),
        }
    }
}

/// No bytes: a bucket keyed by `()` holds at most one entry.
impl KeyCodec for () {
    type Owned = ();
    type Borrowed = ();

    fn encode_key(_key: &(), _out: &mut Vec<u8>) {}

    fn decode_key_nested(_input: &mut &[u8]) -> Result<()> {
        Ok(())
    }
}

/// The `N` bytes as they are.
impl<const N: usize> KeyCodec for [u8; N] {
    type Owned = [u8; N];
    type Borrowed = [u8; N];

    fn encode_key(key: &[u8; N], out: &mut Vec<u8>) {
        out.extend_from_slice(key);
    }

    fn decode_key_nested(input: &mut &[u8]) -> Result<[u8; N]> {
        take_fixed::<N, [u8; N]>(input)
    }
}

/// The end of a nested byte string: `0x00 0x00`.
const NESTED_END: [u8; 2] = [0x00, 0x00];
/// A `0x00` byte inside a nested byte string is written `0x00 0xFF`.
const NESTED_ZERO: [u8; 2] = [0x00, 0xFF];

fn encode_nested_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + NESTED_END.len());
    let mut rest = bytes;
    while let Some(zero) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..zero]);
        out.extend_from_slice(&NESTED_ZERO);
        rest = &rest[zero + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&NESTED_END);
}

/// Reads one nested byte string off the front of `input`; errors name `T`.
fn decode_nested_bytes<T: ?Sized>(input: &mut &[u8]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut rest = *input;
    loop {
        let Some(zero) = rest.iter().position(|&b| b == 0) else {
            return Err(decode_error::<T>(
                "a string inside a tuple has no 0x00 0x00 end",
            ));
        };
        bytes.extend_from_slice(&rest[..zero]);
        match rest.get(zero + 1) {
            Some(0x00) => {
                *input = &rest[zero + 2..];
                return Ok(bytes);
            }
            Some(0xFF) => {
                bytes.push(0);
                rest = &rest[zero + 2..];
            }
            Some(b) => {
                return Err(decode_error::<T>(format!(
                    "a string inside a tuple has byte 0x00 followed by {b:#04x} \
                     (only 0xFF or the end 0x00 may follow it)"
                )))
            }
            None => {
                return Err(decode_error::<T>(
                    "a string inside a tuple ends in a lone 0x00",
                ))
            }
        }
    }
}

/// The bytes as they are; inside a tuple, escaped and terminated (see
/// [`crate::codec`]).
impl KeyCodec for Vec<u8> {
    type Owned = Vec<u8>;
    type Borrowed = [u8];

    fn encode_key(key: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(key);
    }

    fn encode_key_nested(key: &[u8], out: &mut Vec<u8>) {
        encode_nested_bytes(key, out);
    }

    fn decode_key(bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }

    fn decode_key_nested(input: &mut &[u8]) -> Result<Vec<u8>> {
        decode_nested_bytes::<Vec<u8>>(input)
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| decode_error::<String>(format!("not UTF-8: {e}")))
}

/// The UTF-8 bytes as they are (`String`'s order is the byte order of its
/// UTF-8); inside a tuple, escaped and terminated like `Vec<u8>`.
impl KeyCodec for String {
    type Owned = String;
    type Borrowed = str;

    fn encode_key(key: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(key.as_bytes());
    }

    fn encode_key_nested(key: &str, out: &mut Vec<u8>) {
        encode_nested_bytes(key.as_bytes(), out);
    }

    fn decode_key(bytes: &[u8]) -> Result<String> {
        utf8(bytes.to_vec())
    }

    fn decode_key_nested(input: &mut &[u8]) -> Result<String> {
        utf8(decode_nested_bytes::<String>(input)?)
    }
}

/// Implements [`KeyCodec`] for a tuple: the elements before `;` are
/// written nested, the one after it as a whole key.
macro_rules! tuple_key {
    ($($elem:ident $idx:tt),+ ; $last:ident $last_idx:tt) => {
        /// The elements in order, each but the last in its nested form,
        /// the last as a whole key (see [`crate::codec`]).
        impl<$($elem: KeyCodec,)+ $last: KeyCodec> KeyCodec for ($($elem,)+ $last,) {
            type Owned = ($($elem::Owned,)+ $last::Owned,);
            type Borrowed = Self::Owned;

            fn encode_key(key: &Self::Owned, out: &mut Vec<u8>) {
                $($elem::encode_key_nested(Borrow::<$elem::Borrowed>::borrow(&key.$idx), out);)+
                $last::encode_key(Borrow::<$last::Borrowed>::borrow(&key.$last_idx), out);
            }

            fn encode_key_nested(key: &Self::Owned, out: &mut Vec<u8>) {
                $($elem::encode_key_nested(Borrow::<$elem::Borrowed>::borrow(&key.$idx), out);)+
                $last::encode_key_nested(Borrow::<$last::Borrowed>::borrow(&key.$last_idx), out);
            }

            fn decode_key(bytes: &[u8]) -> Result<Self::Owned> {
                let mut rest = bytes;
                Ok(($($elem::decode_key_nested(&mut rest)?,)+ $last::decode_key(rest)?,))
            }

            fn decode_key_nested(input: &mut &[u8]) -> Result<Self::Owned> {
                Ok(($($elem::decode_key_nested(input)?,)+ $last::decode_key_nested(input)?,))
            }
        }
    };
}

tuple_key!(A 0; B 1);
tuple_key!(A 0, B 1; C 2);
tuple_key!(A 0, B 1, C 2; D 3);
tuple_key!(A 0, B 1, C 2, D 3; E 4);
