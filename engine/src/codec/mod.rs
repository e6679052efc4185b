//! Codecs: how typed keys and values become the bytes the store keeps.
//!
//! A [`KeyCodec`] encodes keys so that the byte order of the encodings is
//! the `Ord` order of the keys: a typed range over a bucket is a byte
//! range over its tree, and iteration yields keys in their own order. A
//! [`ValueCodec`] encodes values (any encoding that decodes back). Typed
//! buckets ([`crate::BucketDef`]) name one codec for keys and one for
//! values.
//!
//! | type | key encoding | value encoding |
//! |---|---|---|
//! | `u8` ... `u128` | big-endian | big-endian |
//! | `i8` ... `i128` | big-endian, sign bit flipped | big-endian two's complement |
//! | `bool` | one byte, 0 or 1 | one byte, 0 or 1 |
//! | `()` | no bytes | no bytes |
//! | `[u8; N]` | the N bytes | the N bytes |
//! | `Vec<u8>`, `String` | the bytes (UTF-8 for `String`); inside a tuple, escaped and terminated (below) | the bytes |
//! | tuples of 2 to 5 codecs | the elements one after the other (below) | each element but the last prefixed by its length (LEB128), the last as it is |
//! | `Postcard<T>` (feature `serde`) | — | `T` in the postcard format |
//!
//! A tuple key writes each element but the last in its *nested* form,
//! which marks where it ends, and the last element as it is. Fixed-width
//! elements are their own nested form. A byte string or string is nested
//! as FoundationDB's tuple layer does it: each `0x00` byte is written as
//! `0x00 0xFF` and the string ends with `0x00 0x00`. That keeps tuple
//! order: `("a", 9) < ("a\0", 0) < ("ab", 0)`, and the empty string sorts
//! first. A tuple nested in a tuple nests all its elements.
//!
//! Decoding gives owned values (a `String`, not a `&str` borrowed from
//! the page). Bytes that do not decode as the type (written by the untyped
//! API, or under another type) give [`crate::Error::Decode`], never a
//! panic.
//!
//! ```
//! use vellum::KeyCodec;
//! let mut a = Vec::new();
//! <(String, u32)>::encode_key(&("apple".to_string(), 7), &mut a);
//! let mut b = Vec::new();
//! <(String, u32)>::encode_key(&("apple pie".to_string(), 1), &mut b);
//! assert!(a < b); // ("apple", 7) < ("apple pie", 1)
//! assert_eq!(<(String, u32)>::decode_key(&a).unwrap(), ("apple".to_string(), 7));
//! assert!(matches!(u64::decode_key(b"abc"), Err(vellum::Error::Decode { .. })));
//! ```

mod key;
#[cfg(feature = "serde")]
mod postcard;
#[cfg(test)]
mod tests;
mod value;

pub use key::KeyCodec;
#[cfg(feature = "serde")]
pub use postcard::Postcard;
pub use value::ValueCodec;

use crate::Error;

/// A [`Error::Decode`] for bytes that do not decode as `T`.
pub(crate) fn decode_error<T: ?Sized>(reason: impl Into<String>) -> Error {
    Error::Decode {
        type_name: std::any::type_name::<T>(),
        reason: reason.into(),
    }
}

/// Takes the first `N` bytes of `input` (a fixed-width encoding), or a
/// [`Error::Decode`] for `T` if there are fewer.
pub(crate) fn take_fixed<const N: usize, T: ?Sized>(input: &mut &[u8]) -> crate::Result<[u8; N]> {
    match input.split_first_chunk::<N>() {
        Some((head, rest)) => {
            *input = rest;
            Ok(*head)
        }
        None => Err(decode_error::<T>(format!(
            "needs {N} bytes, found {}",
            input.len()
        ))),
    }
}

/// Checks that a fixed-width decode used all of its bytes.
pub(crate) fn expect_end<T: ?Sized>(rest: &[u8]) -> crate::Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(decode_error::<T>(format!(
            "{} bytes left over after the encoding",
            rest.len()
        )))
    }
}
