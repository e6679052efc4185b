//! The model is the oracle, so it is itself checked: differentially against
//! a naive map of maps, and end to end against a toy engine with crashes,
//! failed commits and readers, including planted bugs the checks must catch.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use vellum_model::{
    check_live, check_recovered, Answer, Durability, KeyValues, ModelError, Outcome, Query, State,
    VersionedModel, DEFAULT_BUCKET as D,
};

/// Small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn key(&mut self) -> Vec<u8> {
        // Few distinct short keys so that operations collide; some 0xff.
        let len = self.below(3) as usize;
        (0..len)
            .map(|_| [0u8, 1, b'a', b'b', 0xff][self.below(5) as usize])
            .collect()
    }
    fn bucket(&mut self) -> Vec<u8> {
        [&b""[..], b"x", b"y", b"\xff"][self.below(4) as usize].to_vec()
    }
    fn value(&mut self) -> Vec<u8> {
        let len = self.below(40) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

type Naive = BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>;

fn naive_new() -> Naive {
    let mut n = Naive::new();
    n.insert(vec![], BTreeMap::new());
    n
}

fn naive_bucket<'a>(
    n: &'a mut Naive,
    b: &[u8],
) -> Result<&'a mut BTreeMap<Vec<u8>, Vec<u8>>, ModelError> {
    n.get_mut(b)
        .ok_or_else(|| ModelError::BucketNotFound(b.to_vec()))
}

fn naive_range(
    n: &Naive,
    b: &[u8],
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
) -> Result<KeyValues, ModelError> {
    let m = n
        .get(b)
        .ok_or_else(|| ModelError::BucketNotFound(b.to_vec()))?;
    Ok(m.iter()
        .filter(|(k, _)| (lo.as_ref(), hi.as_ref()).contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

fn to_state(n: &Naive) -> State {
    let mut s = State::new();
    for (b, m) in n {
        if !b.is_empty() {
            s.create_bucket(b).unwrap();
        }
        for (k, v) in m {
            s.put(b, k, v).unwrap();
        }
    }
    s
}

fn bound(rng: &mut Rng) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(rng.key()),
        _ => Bound::Excluded(rng.key()),
    }
}

#[test]
fn state_agrees_with_a_naive_map_of_maps() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed * 0x9e37_79b9);
        let mut s = State::new();
        let mut n = naive_new();
        let mut snapshots: Vec<(State, Naive)> = Vec::new();
        for step in 0..1500 {
            let b = rng.bucket();
            let k = rng.key();
            let ctx = format!("seed {seed} step {step}");
            match rng.below(10) {
                0..=2 => {
                    let v = rng.value();
                    let want = naive_bucket(&mut n, &b).map(|m| m.insert(k.clone(), v.clone()));
                    assert_eq!(s.put(&b, &k, &v), want, "{ctx}");
                }
                3 => {
                    let want = naive_bucket(&mut n, &b).map(|m| m.remove(&k));
                    assert_eq!(s.delete(&b, &k), want, "{ctx}");
                }
                4 => {
                    let v = rng.value();
                    let want = naive_bucket(&mut n, &b).map(|m| {
                        let absent = !m.contains_key(&k);
                        if absent {
                            m.insert(k.clone(), v.clone());
                        }
                        absent
                    });
                    assert_eq!(s.insert_if_absent(&b, &k, &v), want, "{ctx}");
                }
                5 => {
                    let want = if b.is_empty() {
                        Err(ModelError::InvalidBucketName)
                    } else if rng.chance(50) {
                        if n.contains_key(&b) {
                            Err(ModelError::BucketExists(b.clone()))
                        } else {
                            n.insert(b.clone(), BTreeMap::new());
                            Ok(())
                        }
                    } else {
                        let got = s.drop_bucket(&b);
                        let want = n
                            .remove(&b)
                            .map(|_| ())
                            .ok_or(ModelError::BucketNotFound(b.clone()));
                        assert_eq!(got, want, "{ctx}");
                        continue;
                    };
                    if b.is_empty() {
                        assert_eq!(s.create_bucket(&b), want, "{ctx}");
                        assert_eq!(s.drop_bucket(&b), want, "{ctx}");
                    } else {
                        assert_eq!(s.create_bucket(&b), want, "{ctx}");
                    }
                }
                6 => {
                    let (lo, hi) = (bound(&mut rng), bound(&mut rng));
                    let q = Query::Range {
                        bucket: b.clone(),
                        start: lo.clone(),
                        end: hi.clone(),
                        reverse: false,
                        limit: None,
                    };
                    let want = naive_range(&n, &b, lo, hi);
                    let got = q.eval(&s);
                    match want {
                        Ok(mut es) => {
                            assert_eq!(got, Answer::Entries(es.clone()), "{ctx}");
                            es.reverse();
                            es.truncate(2);
                            assert_eq!(
                                q.reversed().limited(2).eval(&s),
                                Answer::Entries(es),
                                "{ctx}"
                            );
                        }
                        Err(e) => assert_eq!(got, Answer::Error(e), "{ctx}"),
                    }
                }
                7 => {
                    let want = n.get(&b).map(|m| {
                        m.iter()
                            .filter(|(key, _)| key.starts_with(&k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect::<Vec<_>>()
                    });
                    let got = s.prefix(&b, &k).map(|e| e.to_vec()).ok();
                    assert_eq!(got, want, "{ctx}");
                }
                8 => {
                    assert_eq!(
                        s.get(&b, &k).map(|v| v.map(<[u8]>::to_vec)),
                        n.get(&b)
                            .map(|m| m.get(&k).cloned())
                            .ok_or(ModelError::BucketNotFound(b.clone())),
                        "{ctx}"
                    );
                    assert_eq!(s.len(&b).ok(), n.get(&b).map(|m| m.len()), "{ctx}");
                }
                _ => {
                    let named: Vec<Vec<u8>> = n.keys().filter(|b| !b.is_empty()).cloned().collect();
                    assert_eq!(s.list_buckets(), named, "{ctx}");
                    snapshots.push((s.clone(), n.clone()));
                }
            }
        }
        // Old snapshots were not disturbed by later writes, and rebuilding
        // a state from scratch gives an equal state and digest.
        for (i, (snap, naive)) in snapshots.iter().enumerate() {
            let rebuilt = to_state(naive);
            assert_eq!(snap.digest(), rebuilt.digest(), "seed {seed} snapshot {i}");
            assert!(
                *snap == rebuilt,
                "seed {seed} snapshot {i}: {:?}",
                snap.diff(&rebuilt)
            );
        }
        for w in snapshots.windows(2) {
            assert_eq!(w[0].0 == w[1].0, w[0].1 == w[1].1, "seed {seed}");
            assert_eq!(
                w[0].0.diff(&w[1].0).is_none(),
                w[0].1 == w[1].1,
                "seed {seed}"
            );
        }
    }
}

/// A toy engine: a list of landed states; a crash keeps a prefix that
/// includes everything synced, chosen by the generator.
struct ToyEngine {
    landed: Vec<Naive>,
    durable: usize,
    /// Planted bugs.
    lose_durable: bool,
    keep_non_suffix: bool,
}

impl ToyEngine {
    fn commit(&mut self, n: Naive, d: Durability) {
        self.landed.push(n);
        if d == Durability::Immediate {
            self.durable = self.landed.len() - 1;
        }
    }
    fn crash(&mut self, rng: &mut Rng) -> Naive {
        let last = self.landed.len() - 1;
        let lowest = if self.lose_durable { 0 } else { self.durable };
        let keep = lowest + rng.below((last - lowest + 1) as u64) as usize;
        self.landed.truncate(keep + 1);
        self.durable = keep;
        let mut out = self.landed[keep].clone();
        if self.keep_non_suffix && keep >= 1 && keep < last {
            // Keeps one write of a lost commit: not a suffix loss.
            out.get_mut(&vec![])
                .unwrap()
                .insert(b"from-lost-commit".to_vec(), vec![]);
        }
        out
    }
}

/// Runs the toy engine against the model; returns the first failure.
fn run_toy(seed: u64, lose_durable: bool, keep_non_suffix: bool) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491) | 1);
    let mut engine = ToyEngine {
        landed: vec![naive_new()],
        durable: 0,
        lose_durable,
        keep_non_suffix,
    };
    let mut model = VersionedModel::new();
    for step in 0..400 {
        match rng.below(10) {
            0..=6 => {
                let mut live = engine.landed.last().unwrap().clone();
                let mut tx = model.begin_write();
                for _ in 0..=rng.below(3) {
                    let (k, v) = (rng.key(), rng.value());
                    live.get_mut(&vec![]).unwrap().insert(k.clone(), v.clone());
                    tx.put(D, &k, &v).unwrap();
                }
                let d = if rng.chance(30) {
                    Durability::Immediate
                } else {
                    Durability::Eventual
                };
                if rng.chance(10) {
                    // The commit returns an error; it lands or not.
                    let lands = rng.chance(50);
                    if lands {
                        engine.commit(live, d);
                    }
                    model.commit(tx, d, Outcome::Err);
                    if rng.chance(50) {
                        let observed = to_state(engine.landed.last().unwrap());
                        let c = check_live(&mut model, &observed)
                            .map_err(|e| format!("step {step}: {e}"))?;
                        assert_eq!(c, model.last_attempted());
                    } else {
                        let observed = to_state(&engine.crash(&mut rng));
                        check_recovered(&mut model, &observed)
                            .map_err(|e| format!("step {step}: {e}"))?;
                    }
                } else {
                    engine.commit(live, d);
                    model.commit(tx, d, Outcome::Ok);
                }
            }
            7 => {
                engine.durable = engine.landed.len() - 1;
                model.note_sync_ok();
            }
            8 => {
                let observed = to_state(&engine.crash(&mut rng));
                check_recovered(&mut model, &observed).map_err(|e| format!("step {step}: {e}"))?;
            }
            _ => {
                // A reader of the live state, checked while writes go on.
                let snapshot = engine.landed.last().unwrap().clone();
                let mut reader = model.begin_read();
                let mut tx = model.begin_write();
                tx.put(D, b"meanwhile", b"").unwrap();
                model.commit(tx, Durability::Eventual, Outcome::Ok);
                let mut after = snapshot.clone();
                after
                    .get_mut(&vec![])
                    .unwrap()
                    .insert(b"meanwhile".to_vec(), vec![]);
                engine.commit(after, Durability::Eventual);
                for _ in 0..5 {
                    let k = if rng.chance(20) {
                        b"meanwhile".to_vec()
                    } else {
                        rng.key()
                    };
                    let v = snapshot[&vec![]].get(&k).map(Vec::as_slice);
                    reader
                        .check_get(D, &k, Ok(v))
                        .map_err(|e| format!("step {step}: {e}"))?;
                }
            }
        }
    }
    Ok(())
}

#[test]
fn toy_engine_passes_every_check() {
    for seed in 1..=30 {
        if let Err(e) = run_toy(seed, false, false) {
            panic!("seed {seed}: {e}");
        }
    }
}

#[test]
fn planted_bug_losing_a_durable_commit_is_caught() {
    let caught = (1..=30)
        .filter_map(|seed| run_toy(seed, true, false).err())
        .collect::<Vec<_>>();
    assert!(!caught.is_empty(), "no seed caught the lost durable commit");
    assert!(
        caught.iter().any(|e| e.contains("were lost")),
        "{}",
        caught[0]
    );
}

#[test]
fn planted_bug_keeping_a_non_suffix_is_caught() {
    let caught = (1..=30)
        .filter_map(|seed| run_toy(seed, false, true).err())
        .collect::<Vec<_>>();
    assert!(!caught.is_empty(), "no seed caught the non-suffix loss");
    assert!(caught[0].contains("observed has b\"\""), "{}", caught[0]);
}

#[test]
fn planted_bug_reader_sees_later_commit_is_caught() {
    let mut model = VersionedModel::new();
    let mut tx = model.begin_write();
    tx.put(D, b"k", b"old").unwrap();
    model.commit(tx, Durability::Immediate, Outcome::Ok);
    let mut reader = model.begin_read();
    let mut tx = model.begin_write();
    tx.put(D, b"k", b"new").unwrap();
    tx.put(D, b"j", b"new").unwrap();
    model.commit(tx, Durability::Immediate, Outcome::Ok);
    reader.check_get(D, b"k", Ok(Some(b"old"))).unwrap();
    // A buggy engine would show the later commit through the old snapshot.
    let e = reader
        .check_range(
            D,
            ..,
            Ok(vec![
                (b"j".to_vec(), b"new".to_vec()),
                (b"k".to_vec(), b"new".to_vec()),
            ]),
        )
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(
            "first difference at entry 0: expected b\"k\": b\"old\", observed b\"j\": b\"new\""
        ),
        "{msg}"
    );
}
