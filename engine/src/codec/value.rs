//! Value codecs (see the table in [`crate::codec`]).

use std::borrow::Borrow;

use super::{decode_error, expect_end, take_fixed};
use crate::Result;

/// An encoding of values of type [`ValueCodec::Owned`]: for any value
/// `v`, `decode_value(&encode_value(v)) == Ok(v)`. Unlike keys, values
/// need no particular byte order.
///
/// The codec for the built-in types is the type itself (`u64`, `String`,
/// `(u32, String)`); `Postcard<T>` (feature `serde`) stores
/// any serde type. A codec of your own:
///
/// ```
/// use vellum::ValueCodec;
///
/// /// A temperature stored as its hundredths of a degree.
/// struct Celsius;
///
/// impl ValueCodec for Celsius {
///     type Owned = f64;
///     type Borrowed = f64;
///     fn encode_value(value: &f64, out: &mut Vec<u8>) -> vellum::Result<()> {
///         i32::encode_value(&((value * 100.0).round() as i32), out)
///     }
///     fn decode_value(bytes: &[u8]) -> vellum::Result<f64> {
///         Ok(f64::from(i32::decode_value(bytes)?) / 100.0)
///     }
/// }
///
/// let mut bytes = Vec::new();
/// Celsius::encode_value(&21.5, &mut bytes).unwrap();
/// assert_eq!(Celsius::decode_value(&bytes).unwrap(), 21.5);
/// ```
pub trait ValueCodec {
    /// The type a stored value decodes to.
    type Owned: Borrow<Self::Borrowed>;
    /// The type encoded: `Owned` itself or a borrowed form of it (`str`
    /// for `String`, `[u8]` for `Vec<u8>`), so that a put takes `&str`.
    type Borrowed: ?Sized;

    /// Appends the encoding of `value` to `out`. The built-in codecs never
    /// fail; a serde codec fails with [`crate::Error::Encode`] when the
    /// type's `Serialize` implementation does; `out` may then hold part of
    /// an encoding (a typed bucket drops it and writes nothing).
    fn encode_value(value: &Self::Borrowed, out: &mut Vec<u8>) -> Result<()>;

    /// Decodes a value from all of `bytes` ([`crate::Error::Decode`] if
    /// they are not an encoding of `Owned`).
    fn decode_value(bytes: &[u8]) -> Result<Self::Owned>;
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        /// Big-endian (two's complement for signed types), fixed width.
        impl ValueCodec for $t {
            type Owned = $t;
            type Borrowed = $t;

            fn encode_value(value: &$t, out: &mut Vec<u8>) -> Result<()> {
                out.extend_from_slice(&value.to_be_bytes());
                Ok(())
            }

            fn decode_value(bytes: &[u8]) -> Result<$t> {
                let mut rest = bytes;
                let value = take_fixed::<{ std::mem::size_of::<$t>() }, $t>(&mut rest)?;
                expect_end::<$t>(rest)?;
                Ok(<$t>::from_be_bytes(value))
            }
        }
    )*};
}

integer_value!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

/// One byte: 0 for `false`, 1 for `true`.
impl ValueCodec for bool {
    type Owned = bool;
    type Borrowed = bool;

    fn encode_value(value: &bool, out: &mut Vec<u8>) -> Result<()> {
        out.push(u8::from(*value));
        Ok(())
    }

    fn decode_value(bytes: &[u8]) -> Result<bool> {
        match bytes {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(decode_error::<bool>(format!(
                "expected one byte 0 or 1, found {bytes:02x?}"
            ))),
        }
    }
}

/// No bytes: a bucket of `()` values is a set of keys.
impl ValueCodec for () {
    type Owned = ();
    type Borrowed = ();

    fn encode_value(_value: &(), _out: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }

    fn decode_value(bytes: &[u8]) -> Result<()> {
        expect_end::<()>(bytes)
    }
}

/// The `N` bytes as they are.
impl<const N: usize> ValueCodec for [u8; N] {
    type Owned = [u8; N];
    type Borrowed = [u8; N];

    fn encode_value(value: &[u8; N], out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode_value(bytes: &[u8]) -> Result<[u8; N]> {
        let mut rest = bytes;
        let value = take_fixed::<N, [u8; N]>(&mut rest)?;
        expect_end::<[u8; N]>(rest)?;
        Ok(value)
    }
}

/// The bytes as they are.
impl ValueCodec for Vec<u8> {
    type Owned = Vec<u8>;
    type Borrowed = [u8];

    fn encode_value(value: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode_value(bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
}

/// The UTF-8 bytes as they are.
impl ValueCodec for String {
    type Owned = String;
    type Borrowed = str;

    fn encode_value(value: &str, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn decode_value(bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec())
            .map_err(|e| decode_error::<String>(format!("not UTF-8: {e}")))
    }
}

/// Appends `element` encoded by `C`, prefixed by its length (LEB128).
fn encode_prefixed<C: ValueCodec + ?Sized>(element: &C::Borrowed, out: &mut Vec<u8>) -> Result<()> {
    let mut encoded = Vec::new();
    C::encode_value(element, &mut encoded)?;
    let mut len = encoded.len() as u64;
    loop {
        let low = (len & 0x7F) as u8;
        len >>= 7;
        if len == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(&encoded);
    Ok(())
}

/// Reads one length-prefixed element off the front of `input`, decoded by
/// `C`; errors name `T`, the tuple.
fn decode_prefixed<C: ValueCodec + ?Sized, T: ?Sized>(input: &mut &[u8]) -> Result<C::Owned> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let [byte] = take_fixed::<1, T>(input)?;
        if shift >= 64 || (shift == 63 && byte > 1) {
            return Err(decode_error::<T>("an element length overflows 64 bits"));
        }
        len |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let available = input.len();
    let Some(element) = usize::try_from(len).ok().and_then(|len| input.get(..len)) else {
        return Err(decode_error::<T>(format!(
            "an element of {len} bytes, with {available} bytes left"
        )));
    };
    *input = &input[element.len()..];
    C::decode_value(element)
}

/// Implements [`ValueCodec`] for a tuple: the elements before `;` are
/// length-prefixed, the one after it is written as it is.
macro_rules! tuple_value {
    ($($elem:ident $idx:tt),+ ; $last:ident $last_idx:tt) => {
        /// The elements in order, each but the last prefixed by its length
        /// in bytes (LEB128), the last as it is.
        impl<$($elem: ValueCodec,)+ $last: ValueCodec> ValueCodec for ($($elem,)+ $last,) {
            type Owned = ($($elem::Owned,)+ $last::Owned,);
            type Borrowed = Self::Owned;

            fn encode_value(value: &Self::Owned, out: &mut Vec<u8>) -> Result<()> {
                $(encode_prefixed::<$elem>(Borrow::<$elem::Borrowed>::borrow(&value.$idx), out)?;)+
                $last::encode_value(Borrow::<$last::Borrowed>::borrow(&value.$last_idx), out)
            }

            fn decode_value(bytes: &[u8]) -> Result<Self::Owned> {
                let mut rest = bytes;
                Ok((
                    $(decode_prefixed::<$elem, Self::Owned>(&mut rest)?,)+
                    $last::decode_value(rest)?,
                ))
            }
        }
    };
}

tuple_value!(A 0; B 1);
tuple_value!(A 0, B 1; C 2);
tuple_value!(A 0, B 1, C 2; D 3);
tuple_value!(A 0, B 1, C 2, D 3; E 4);
