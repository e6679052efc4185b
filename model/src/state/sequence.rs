//! Bucket sequences in the model: the engine's `next_id`, `sequence` and
//! `set_sequence` (FORMAT.md §1.7). A sequence is part of the state like
//! the entries: it counts in equality and in the digest, so a recovered
//! state must match a commit's sequences as well as its keys.

use super::{mix, Bucket, ModelError, State};

/// The digest term of a bucket's sequence: 0 at sequence 0, so states
/// without sequences keep the digests they had before sequences existed.
fn sequence_hash(seed: u64, sequence: u64) -> u64 {
    if sequence == 0 {
        0
    } else {
        mix(seed ^ mix(sequence ^ 0x7365_7175_656e_6365))
    }
}

impl State {
    /// The bucket's sequence: the last id handed out, 0 if none.
    ///
    /// ```
    /// use vellum_model::{State, DEFAULT_BUCKET as D};
    /// let mut s = State::new();
    /// assert_eq!(s.sequence(D), Ok(0));
    /// assert_eq!(s.next_id(D), Ok(1));
    /// assert_eq!(s.sequence(D), Ok(1));
    /// ```
    pub fn sequence(&self, bucket: &[u8]) -> Result<u64, ModelError> {
        Ok(self.bucket(bucket)?.sequence)
    }

    /// Raises the sequence by one and returns it;
    /// [`ModelError::SequenceExhausted`] at `u64::MAX`.
    ///
    /// ```
    /// use vellum_model::{ModelError, State};
    /// let mut s = State::new();
    /// s.create_bucket(b"b").unwrap();
    /// s.set_sequence(b"b", u64::MAX).unwrap();
    /// assert_eq!(s.next_id(b"b"), Err(ModelError::SequenceExhausted(b"b".to_vec())));
    /// ```
    pub fn next_id(&mut self, bucket: &[u8]) -> Result<u64, ModelError> {
        let current = self.sequence(bucket)?;
        let next = current
            .checked_add(1)
            .ok_or_else(|| ModelError::SequenceExhausted(bucket.to_vec()))?;
        self.raise(bucket, next)?;
        Ok(next)
    }

    /// Sets the sequence to `value`, never lowering it
    /// ([`ModelError::SequenceLowered`]); the same value changes nothing.
    ///
    /// ```
    /// use vellum_model::{ModelError, State, DEFAULT_BUCKET as D};
    /// let mut s = State::new();
    /// let before = s.clone();
    /// s.set_sequence(D, 0).unwrap();
    /// assert_eq!(s, before);
    /// s.set_sequence(D, 5).unwrap();
    /// assert_ne!(s, before);
    /// assert!(matches!(s.set_sequence(D, 4), Err(ModelError::SequenceLowered { current: 5, .. })));
    /// ```
    pub fn set_sequence(&mut self, bucket: &[u8], value: u64) -> Result<(), ModelError> {
        let current = self.sequence(bucket)?;
        if value < current {
            return Err(ModelError::SequenceLowered {
                bucket: bucket.to_vec(),
                current,
                requested: value,
            });
        }
        self.raise(bucket, value)
    }

    fn raise(&mut self, bucket: &[u8], value: u64) -> Result<(), ModelError> {
        self.with_bucket(bucket, |b: &mut Bucket| {
            assert!(value >= b.sequence, "a sequence only rises");
            let removed = sequence_hash(b.seed, b.sequence);
            b.sequence = value;
            ((), sequence_hash(b.seed, value), removed)
        })
    }
}
