//! Property tests of the codecs: for every key codec, byte order of the
//! encodings is the order of the keys (whole and nested), encodings decode
//! back, nested encodings are prefix-free, and arbitrary bytes either fail
//! to decode with [`Error::Decode`] or are the encoding of what they decode
//! to; every value codec round-trips.

use std::borrow::Borrow;
use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{KeyCodec, ValueCodec};
use crate::Error;

fn whole<K: KeyCodec>(key: &K::Owned) -> Vec<u8> {
    let mut out = Vec::new();
    K::encode_key(key.borrow(), &mut out);
    out
}

fn nested<K: KeyCodec>(key: &K::Owned) -> Vec<u8> {
    let mut out = Vec::new();
    K::encode_key_nested(key.borrow(), &mut out);
    out
}

/// Every property of a key codec for the keys `a` and `b`.
fn check_keys<K: KeyCodec>(a: &K::Owned, b: &K::Owned) -> Result<(), TestCaseError>
where
    K::Owned: Debug,
{
    prop_assert_eq!(a.cmp(b), whole::<K>(a).cmp(&whole::<K>(b)), "whole order");
    prop_assert_eq!(
        a.cmp(b),
        nested::<K>(a).cmp(&nested::<K>(b)),
        "nested order"
    );
    for key in [a, b] {
        prop_assert_eq!(&K::decode_key(&whole::<K>(key)).unwrap(), key);
    }
    // Nested encodings one after the other decode back, each ending
    // exactly where it should (prefix-free).
    let mut both = nested::<K>(a);
    both.extend_from_slice(&nested::<K>(b));
    let mut rest = &both[..];
    prop_assert_eq!(&K::decode_key_nested(&mut rest).unwrap(), a);
    prop_assert_eq!(&K::decode_key_nested(&mut rest).unwrap(), b);
    prop_assert!(rest.is_empty());
    Ok(())
}

/// Arbitrary bytes decode to a key whose encoding they are, or fail with
/// [`Error::Decode`].
fn check_arbitrary_bytes<K: KeyCodec>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    K::Owned: Debug,
{
    match K::decode_key(bytes) {
        Ok(key) => prop_assert_eq!(whole::<K>(&key), bytes),
        Err(e) => prop_assert!(matches!(e, Error::Decode { .. }), "{e:?}"),
    }
    let mut rest = bytes;
    match K::decode_key_nested(&mut rest) {
        Ok(key) => prop_assert_eq!(nested::<K>(&key), &bytes[..bytes.len() - rest.len()]),
        Err(e) => prop_assert!(matches!(e, Error::Decode { .. }), "{e:?}"),
    }
    Ok(())
}

fn check_value<V: ValueCodec>(value: &V::Owned) -> Result<(), TestCaseError>
where
    V::Owned: Debug + PartialEq,
{
    let mut bytes = Vec::new();
    V::encode_value(value.borrow(), &mut bytes).unwrap();
    prop_assert_eq!(&V::decode_value(&bytes).unwrap(), value);
    Ok(())
}

fn check_value_bytes<V: ValueCodec>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = V::decode_value(bytes) {
        prop_assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    }
    Ok(())
}

/// Byte strings rich in the bytes the nested form escapes (0x00) and the
/// escape itself (0xFF), including the empty string.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![Just(0u8), Just(0xFF), Just(1), any::<u8>()],
        0..8,
    )
}

/// Strings with NUL characters, `ÿ` (U+00FF) and any character, including
/// the empty string.
fn string() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            Just('\0'),
            Just('\u{1}'),
            Just('a'),
            Just('ÿ'),
            any::<char>()
        ],
        0..6,
    )
    .prop_map(String::from_iter)
}

macro_rules! key_codec_tests {
    ($($name:ident: $codec:ty = $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(a in $strategy, b in $strategy, raw in vec(any::<u8>(), 0..24)) {
                    check_keys::<$codec>(&a, &b)?;
                    check_keys::<$codec>(&a, &a)?;
                    check_arbitrary_bytes::<$codec>(&raw)?;
                    check_arbitrary_bytes::<$codec>(&whole::<$codec>(&a))?;
                }
            )*
        }
    };
}

key_codec_tests! {
    key_u8: u8 = any::<u8>();
    key_u16: u16 = any::<u16>();
    key_u32: u32 = any::<u32>();
    key_u64: u64 = any::<u64>();
    key_u128: u128 = any::<u128>();
    key_i8: i8 = any::<i8>();
    key_i16: i16 = any::<i16>();
    key_i32: i32 = any::<i32>();
    key_i64: i64 = any::<i64>();
    key_i128: i128 = any::<i128>();
    key_bool: bool = any::<bool>();
    key_unit: () = Just(());
    key_array: [u8; 3] = any::<[u8; 3]>();
    key_bytes: Vec<u8> = bytes();
    key_string: String = string();
    key_string_u32: (String, u32) = (string(), any::<u32>());
    key_bytes_bytes: (Vec<u8>, Vec<u8>) = (bytes(), bytes());
    key_string_string_i64: (String, String, i64) = (string(), string(), any::<i64>());
    key_i16_bytes_bool: (i16, Vec<u8>, bool) = (any::<i16>(), bytes(), any::<bool>());
    key_nested_tuple: ((String, u8), String) = ((string(), 0u8..3), string());
    key_tuple_of_4: (bool, Vec<u8>, u8, String) = (any::<bool>(), bytes(), 0u8..3, string());
    key_tuple_of_5: (u8, String, [u8; 2], bool, Vec<u8>) =
        (0u8..3, string(), any::<[u8; 2]>(), any::<bool>(), bytes());
}

/// Signed keys at the edges sort as numbers, negatives first.
#[test]
fn signed_keys_sort_negatives_first() {
    let sorted = [i64::MIN, -256, -1, 0, 1, 255, i64::MAX];
    let encoded: Vec<Vec<u8>> = sorted.iter().map(whole::<i64>).collect();
    assert!(encoded.windows(2).all(|w| w[0] < w[1]), "{encoded:02x?}");
    assert_eq!(whole::<i8>(&-1), [0x7F]);
    assert_eq!(whole::<i8>(&0), [0x80]);
}

/// The nested form of byte strings is FoundationDB's: 0x00 escaped as
/// 0x00 0xFF, terminated by 0x00 0x00; the last tuple element is raw.
#[test]
fn tuple_layout_is_documented_one() {
    let key = (b"a\0b".to_vec(), b"\0".to_vec());
    assert_eq!(
        whole::<(Vec<u8>, Vec<u8>)>(&key),
        [b'a', 0x00, 0xFF, b'b', 0x00, 0x00, 0x00]
    );
    assert_eq!(
        nested::<(Vec<u8>, Vec<u8>)>(&key),
        [b'a', 0x00, 0xFF, b'b', 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00]
    );
    // ("a", 9) < ("a\0", 0) < ("ab", 0): a longer string with the same
    // start sorts after, whatever follows the shorter one.
    let order =
        [("a", 9u32), ("a\0", 0), ("ab", 0)].map(|(s, n)| whole::<(String, u32)>(&(s.into(), n)));
    assert!(order[0] < order[1] && order[1] < order[2]);
}

#[test]
fn bad_key_bytes_give_decode_errors_that_name_the_type() {
    let e = u64::decode_key(b"abc").unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Decode {
                type_name: "u64",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("needs 8 bytes, found 3"), "{e}");
    assert!(matches!(
        u32::decode_key(&[0; 5]),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(bool::decode_key(&[2]), Err(Error::Decode { .. })));
    assert!(matches!(
        String::decode_key(&[0xFF]),
        Err(Error::Decode { .. })
    ));
    // No end, a lone 0x00 at the end, 0x00 followed by neither 0x00 nor 0xFF.
    for bad in [&b"abc"[..], b"abc\0", b"a\0\x01\0\0"] {
        let e = <(String, u8)>::decode_key(bad).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    }
}

proptest! {
    #[test]
    fn values_round_trip(
        n in any::<u64>(),
        i in any::<i128>(),
        flag in any::<bool>(),
        array in any::<[u8; 4]>(),
        b in bytes(),
        s in string(),
        t in string(),
    ) {
        check_value::<u64>(&n)?;
        check_value::<i128>(&i)?;
        check_value::<i8>(&(i as i8))?;
        check_value::<bool>(&flag)?;
        check_value::<()>(&())?;
        check_value::<[u8; 4]>(&array)?;
        check_value::<Vec<u8>>(&b)?;
        check_value::<String>(&s)?;
        check_value::<(String, u64)>(&(s.clone(), n))?;
        check_value::<(String, String, Vec<u8>)>(&(s.clone(), t.clone(), b.clone()))?;
        check_value::<(Vec<u8>, bool, String, (u8, String))>(&(b, flag, t, (n as u8, s)))?;
    }

    #[test]
    fn arbitrary_bytes_decode_as_values_or_fail_cleanly(raw in vec(any::<u8>(), 0..40)) {
        check_value_bytes::<u64>(&raw)?;
        check_value_bytes::<bool>(&raw)?;
        check_value_bytes::<()>(&raw)?;
        check_value_bytes::<[u8; 4]>(&raw)?;
        check_value_bytes::<String>(&raw)?;
        check_value_bytes::<(String, u64)>(&raw)?;
        check_value_bytes::<(Vec<u8>, bool, String, (u8, String))>(&raw)?;
    }
}

/// A tuple value's length prefix that claims more bytes than there are,
/// or overflows 64 bits, is a decode error.
#[test]
fn bad_tuple_value_lengths_give_decode_errors() {
    let mut bytes = Vec::new();
    <(String, u8)>::encode_value(&("abc".to_string(), 1), &mut bytes).unwrap();
    assert_eq!(bytes, [3, b'a', b'b', b'c', 1]);
    assert!(matches!(
        <(String, u8)>::decode_value(&[9, b'a', 1]),
        Err(Error::Decode { .. })
    ));
    let overflowing = [0xFF; 11];
    assert!(matches!(
        <(String, u8)>::decode_value(&overflowing),
        Err(Error::Decode { .. })
    ));
}

#[cfg(feature = "serde")]
mod postcard {
    use proptest::prelude::*;

    use super::{check_value, check_value_bytes, string};
    use crate::codec::{Postcard, ValueCodec};
    use crate::Error;

    type Record = (String, u64, Vec<String>, Option<i32>);

    proptest! {
        #[test]
        fn postcard_values_round_trip(
            name in string(),
            id in any::<u64>(),
            tags in proptest::collection::vec(string(), 0..4),
            score in any::<Option<i32>>(),
        ) {
            check_value::<Postcard<Record>>(&(name, id, tags, score))?;
        }

        #[test]
        fn arbitrary_bytes_decode_as_postcard_or_fail_cleanly(
            raw in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            check_value_bytes::<Postcard<Record>>(&raw)?;
        }
    }

    #[test]
    fn trailing_bytes_after_a_postcard_value_are_a_decode_error() {
        let mut bytes = Vec::new();
        Postcard::<u32>::encode_value(&300, &mut bytes).unwrap();
        assert_eq!(Postcard::<u32>::decode_value(&bytes).unwrap(), 300);
        bytes.push(0);
        assert!(matches!(
            Postcard::<u32>::decode_value(&bytes),
            Err(Error::Decode { .. })
        ));
    }
}
