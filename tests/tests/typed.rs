//! Typed buckets (`BucketDef`, `ReadTxn::open`, `WriteTxn::open`) against
//! a `BTreeMap` model, over reopen, mixed with the untyped API, and with
//! bytes that do not fit the type.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use vellum::{BucketDef, Db, Durability, Error, Options, Postcard};
use vellum_tests::util::assert_check_ok;

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

/// Small pages, so a few hundred entries make trees several levels deep.
fn small(path: &Path) -> Db {
    Options::new()
        .page_size(1024)
        .durability(Durability::Eventual)
        .open(path)
        .unwrap()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    email: Option<String>,
    roles: Vec<String>,
    karma: i64,
}

fn user(name: &str, karma: i64) -> User {
    User {
        name: name.to_string(),
        email: Some(format!("{name}@example.com")),
        roles: vec!["reader".to_string()],
        karma,
    }
}

const USERS: BucketDef<u64, Postcard<User>> = BucketDef::new("users");
/// (city, year) -> name; the city is a string inside a tuple key.
const EVENTS: BucketDef<(String, i32), String> = BucketDef::new("events");

type EventKey = (String, i32);
type Model = BTreeMap<EventKey, String>;

#[derive(Debug, Clone)]
enum Op {
    Put(EventKey, String),
    Delete(EventKey),
    Commit,
}

/// Cities rich in the bytes the tuple encoding escapes: NUL, and the
/// empty string.
fn city() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('\0'), Just('a'), Just('b'), Just('ÿ')],
        0..4,
    )
    .prop_map(String::from_iter)
}

fn event_key() -> impl Strategy<Value = EventKey> {
    (city(), -3i32..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (event_key(), "[a-z]{0,12}").prop_map(|(k, v)| Op::Put(k, v)),
        3 => event_key().prop_map(Op::Delete),
        1 => Just(Op::Commit),
    ]
}

fn bound() -> impl Strategy<Value = Bound<EventKey>> {
    prop_oneof![
        event_key().prop_map(Bound::Included),
        event_key().prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

fn in_bounds(key: &EventKey, start: &Bound<EventKey>, end: &Bound<EventKey>) -> bool {
    let above = match start {
        Bound::Included(s) => key >= s,
        Bound::Excluded(s) => key > s,
        Bound::Unbounded => true,
    };
    let below = match end {
        Bound::Included(e) => key <= e,
        Bound::Excluded(e) => key < e,
        Bound::Unbounded => true,
    };
    above && below
}

type Entries = Vec<(EventKey, String)>;

fn model_entries(model: &Model, start: &Bound<EventKey>, end: &Bound<EventKey>) -> Entries {
    model
        .iter()
        .filter(|(k, _)| in_bounds(k, start, end))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A walk that takes from the front (`true`) or the back (`false`) in
/// the given order, then drains the front: what a double-ended iterator
/// must give, computed on a list.
fn expected_walk(mut entries: Entries, sides: &[bool]) -> Entries {
    let mut out = Vec::new();
    for &front in sides {
        if entries.is_empty() {
            break;
        }
        out.push(if front {
            entries.remove(0)
        } else {
            entries.pop().unwrap()
        });
    }
    out.extend(entries);
    out
}

fn walk(
    mut range: impl DoubleEndedIterator<Item = vellum::Result<(EventKey, String)>>,
    sides: &[bool],
) -> Entries {
    let mut out = Vec::new();
    for &front in sides {
        let next = if front {
            range.next()
        } else {
            range.next_back()
        };
        match next {
            Some(entry) => out.push(entry.unwrap()),
            None => break,
        }
    }
    out.extend(range.map(Result::unwrap));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Typed puts and deletes, committed in several transactions, read
    /// back inside the write transaction (its own writes) and from
    /// snapshots: get, contains, len, first, last, iter (both ways) and
    /// ranges with every kind of bound agree with a BTreeMap.
    #[test]
    fn typed_bucket_matches_btreemap(
        ops in proptest::collection::vec(op(), 1..160),
        probes in proptest::collection::vec(event_key(), 8),
        ranges in proptest::collection::vec((bound(), bound()), 6),
        sides in proptest::collection::vec(any::<bool>(), 0..12),
    ) {
        let (_dir, path) = tmp();
        let db = small(&path);
        let mut model = Model::new();
        let mut tx = db.begin_write().unwrap();
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    tx.open(&EVENTS).unwrap().put(&k, &v).unwrap();
                    model.insert(k, v);
                }
                Op::Delete(k) => {
                    let existed = tx.open(&EVENTS).unwrap().delete(&k).unwrap();
                    prop_assert_eq!(existed, model.remove(&k).is_some());
                }
                Op::Commit => {
                    tx.commit().unwrap();
                    tx = db.begin_write().unwrap();
                }
            }
            let events = tx.open(&EVENTS).unwrap();
            prop_assert_eq!(events.len().unwrap(), model.len() as u64);
            for k in &probes {
                prop_assert_eq!(events.get(k).unwrap(), model.get(k).cloned());
            }
        }
        {
            let events = tx.open(&EVENTS).unwrap();
            let all = model_entries(&model, &Bound::Unbounded, &Bound::Unbounded);
            prop_assert_eq!(events.iter().unwrap().map(Result::unwrap).collect::<Entries>(), all);
            prop_assert_eq!(events.first().unwrap(), model.first_key_value().map(|(k, v)| (k.clone(), v.clone())));
            prop_assert_eq!(events.last().unwrap(), model.last_key_value().map(|(k, v)| (k.clone(), v.clone())));
        }
        tx.commit().unwrap();

        let tx = db.begin_read().unwrap();
        let events = tx.open(&EVENTS).unwrap();
        prop_assert_eq!(events.len(), model.len() as u64);
        prop_assert_eq!(events.is_empty(), model.is_empty());
        for k in &probes {
            prop_assert_eq!(events.get(k).unwrap(), model.get(k).cloned());
            prop_assert_eq!(events.contains(k).unwrap(), model.contains_key(k));
        }
        let all = model_entries(&model, &Bound::Unbounded, &Bound::Unbounded);
        let mut reversed = all.clone();
        reversed.reverse();
        prop_assert_eq!(events.iter().rev().map(Result::unwrap).collect::<Entries>(), reversed);
        prop_assert_eq!(walk(events.iter(), &sides), expected_walk(all, &sides));
        for (start, end) in ranges {
            let expected = model_entries(&model, &start, &end);
            let range = (start.clone(), end.clone());
            prop_assert_eq!(
                events.range(range.clone()).map(Result::unwrap).collect::<Entries>(),
                expected.clone(),
                "range {:?}", range
            );
            prop_assert_eq!(walk(events.range(range), &sides), expected_walk(expected, &sides));
        }
        assert_check_ok(&db);
    }
}

#[test]
fn typed_data_survives_reopen() {
    let (_dir, path) = tmp();
    {
        let db = small(&path);
        db.update(|tx| {
            let users = tx.open(&USERS)?;
            for id in 0..300u64 {
                users.put(&id, &user(&format!("user{id}"), id as i64 - 150))?;
            }
            tx.open(&EVENTS)?.put(&("Lyon".to_string(), -44), "founded")
        })
        .unwrap();
    }
    let db = small(&path);
    let tx = db.begin_read().unwrap();
    let users = tx.open(&USERS).unwrap();
    assert_eq!(users.len(), 300);
    assert_eq!(users.get(&7).unwrap(), Some(user("user7", -143)));
    assert_eq!(users.get(&300).unwrap(), None);
    let ids: Vec<u64> = users.range(100..103).map(|e| e.unwrap().0).collect();
    assert_eq!(ids, [100, 101, 102]);
    assert_eq!(users.last().unwrap().unwrap().1, user("user299", 149));
    let events = tx.open(&EVENTS).unwrap();
    assert_eq!(
        events.get(&("Lyon".to_string(), -44)).unwrap().as_deref(),
        Some("founded")
    );
    assert_check_ok(&db);
}

/// Bytes written by the untyped API that do not fit the types give
/// `Error::Decode` (never a panic), and a walk goes on past them.
#[test]
fn bytes_that_do_not_fit_the_type_give_decode_errors() {
    let (_dir, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        let raw = tx.create_bucket("users")?;
        raw.put(1u64.to_be_bytes(), b"\xFF\xFF\xFF")?; // not a User
        raw.put(b"abc", b"")?; // not a u64 key
        let events = tx.create_bucket("events")?;
        events.put(b"no tuple end", b"x")?; // no 0x00 0x00 after the string
        tx.open(&USERS)?.put(&2, &user("bob", 1))
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let users = tx.open(&USERS).unwrap();
    let e = users.get(&1).unwrap_err();
    assert!(
        matches!(&e, Error::Decode { type_name, .. } if type_name.ends_with("User")),
        "{e:?}"
    );
    assert!(e.to_string().contains("do not decode as"), "{e}");
    assert!(users.contains(&1).unwrap());
    let items: Vec<_> = users.iter().collect();
    assert_eq!(items.len(), 3);
    assert!(
        matches!(items[0], Err(Error::Decode { .. })),
        "{:?}",
        items[0]
    );
    assert_eq!(items[1].as_ref().unwrap(), &(2, user("bob", 1)));
    assert!(
        matches!(&items[2], Err(Error::Decode { type_name: "u64", reason }) if reason.contains("needs 8 bytes")),
        "{:?}",
        items[2]
    );
    assert!(matches!(users.last(), Err(Error::Decode { .. })));
    let events = tx.open(&EVENTS).unwrap();
    assert!(matches!(events.first(), Err(Error::Decode { .. })));
}

#[test]
fn typed_keys_and_values_are_the_documented_bytes() {
    const COUNTS: BucketDef<(String, i16), u32> = BucketDef::new("counts");
    let (_dir, path) = tmp();
    let db = small(&path);
    db.update(|tx| tx.open(&COUNTS)?.put(&("a\0".to_string(), -2), &7))
        .unwrap();
    let tx = db.begin_read().unwrap();
    let raw: Vec<(Vec<u8>, Vec<u8>)> = tx
        .bucket("counts")
        .unwrap()
        .iter()
        .owned()
        .collect::<vellum::Result<_>>()
        .unwrap();
    let key = [b'a', 0x00, 0xFF, 0x00, 0x00, 0x7F, 0xFE];
    assert_eq!(raw, [(key.to_vec(), 7u32.to_be_bytes().to_vec())]);
}

#[test]
fn read_open_of_a_missing_bucket_fails_and_write_open_creates_it() {
    let (_dir, path) = tmp();
    let db = small(&path);
    assert!(matches!(
        db.begin_read().unwrap().open(&USERS),
        Err(Error::BucketNotFound(name)) if name == b"users"
    ));
    // Created by the write transaction, gone when it aborts.
    let tx = db.begin_write().unwrap();
    assert!(tx.open(&USERS).unwrap().is_empty().unwrap());
    assert_eq!(tx.bucket_names().unwrap(), [b"users".to_vec()]);
    tx.abort();
    assert!(db.begin_read().unwrap().bucket_names().is_empty());
    // Opening an existing bucket keeps its content.
    db.update(|tx| tx.open(&USERS)?.put(&1, &user("ann", 0)))
        .unwrap();
    db.update(|tx| tx.open(&USERS)?.put(&2, &user("ben", 0)))
        .unwrap();
    assert_eq!(db.begin_read().unwrap().open(&USERS).unwrap().len(), 2);
}

#[test]
fn default_bucket_can_be_typed() {
    const DEFAULT: BucketDef<String, u64> = BucketDef::default_bucket();
    let (_dir, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        tx.put(b"untyped", 5u64.to_be_bytes())?;
        tx.open(&DEFAULT)?.put("typed", &6)
    })
    .unwrap();
    assert!(db.begin_read().unwrap().bucket_names().is_empty());
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get(b"typed").unwrap().unwrap(), 6u64.to_be_bytes());
    let all: Vec<(String, u64)> = tx
        .open(&DEFAULT)
        .unwrap()
        .iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all, [("typed".to_string(), 6), ("untyped".to_string(), 5)]);
}

#[test]
fn write_side_sees_its_own_writes_and_iterators_keep_their_version() {
    const NUMBERS: BucketDef<i64, bool> = BucketDef::new("numbers");
    let (_dir, path) = tmp();
    let db = small(&path);
    let tx = db.begin_write().unwrap();
    let numbers = tx.open(&NUMBERS).unwrap();
    for n in -5..5 {
        numbers.put(&n, &(n % 2 == 0)).unwrap();
    }
    let before = numbers.iter().unwrap();
    assert!(numbers.insert_if_absent(&100, &true).unwrap());
    assert!(!numbers.insert_if_absent(&100, &false).unwrap());
    assert!(numbers.delete(&-5).unwrap());
    assert_eq!(numbers.get(&100).unwrap(), Some(true));
    assert_eq!(numbers.first().unwrap(), Some((-4, true)));
    assert_eq!(numbers.last().unwrap(), Some((100, true)));
    assert_eq!(numbers.len().unwrap(), 10);
    let keys: Vec<i64> = before.map(|e| e.unwrap().0).collect();
    assert_eq!(keys, (-5..5).collect::<Vec<_>>());
    let negatives: Vec<i64> = numbers.range(..0).unwrap().map(|e| e.unwrap().0).collect();
    assert_eq!(negatives, [-4, -3, -2, -1]);
    tx.commit().unwrap();
}

#[test]
fn typed_puts_keep_the_size_limits() {
    const BLOBS: BucketDef<Vec<u8>, Vec<u8>> = BucketDef::new("blobs");
    let (_dir, path) = tmp();
    let db = small(&path);
    let tx = db.begin_write().unwrap();
    let blobs = tx.open(&BLOBS).unwrap();
    let long_key = vec![1u8; 4096];
    assert!(matches!(
        blobs.put(&long_key, b"v"),
        Err(Error::KeyTooLarge { .. })
    ));
    // A large value goes to an overflow run and comes back whole.
    let big = vec![9u8; 100_000];
    blobs.put(b"big", &big).unwrap();
    assert_eq!(blobs.get(b"big").unwrap(), Some(big));
}

/// A value whose `Serialize` fails.
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be serialized",
        ))
    }
}

impl<'de> Deserialize<'de> for Unserializable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| Unserializable)
    }
}

#[test]
fn a_failing_serialize_gives_an_encode_error_and_writes_nothing() {
    const BROKEN: BucketDef<u8, Postcard<Unserializable>> = BucketDef::new("broken");
    let (_dir, path) = tmp();
    let db = small(&path);
    let tx = db.begin_write().unwrap();
    let broken = tx.open(&BROKEN).unwrap();
    let e = broken.put(&1, &Unserializable).unwrap_err();
    // postcard keeps no custom message; the error names the type.
    assert!(
        matches!(&e, Error::Encode { type_name, .. } if type_name.ends_with("Unserializable")),
        "{e:?}"
    );
    assert!(broken.is_empty().unwrap());
}

#[test]
fn string_keyed_ranges_take_str_bounds() {
    const WORDS: BucketDef<String, u32> = BucketDef::new("words");
    let (_dir, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        let words = tx.open(&WORDS)?;
        for (i, w) in ["", "a", "a\0", "ab", "b", "ba", "c"].iter().enumerate() {
            words.put(w, &(i as u32))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let words = tx.open(&WORDS).unwrap();
    assert_eq!(keys(words.range("a".."b")), ["a", "a\0", "ab"]);
    assert_eq!(keys(words.range("a"..="b").rev()), ["b", "ab", "a\0", "a"]);
    assert_eq!(keys(words.range(.."a")), [""]);
    let owned = "ba".to_string();
    assert_eq!(keys(words.range(owned.as_str()..)), ["ba", "c"]);
    assert_eq!(
        keys(words.range::<str, _>((Bound::Excluded("a"), Bound::Excluded("ab")))),
        ["a\0"]
    );
    // A start above the end is an empty range, not a panic.
    assert!(keys(words.range("c".."a")).is_empty());
}

fn keys(range: impl Iterator<Item = vellum::Result<(String, u32)>>) -> Vec<String> {
    range.map(|e| e.unwrap().0).collect()
}
