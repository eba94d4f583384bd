//! The ID generator's high-water mark, kept outside the database (IDN-2: an ID ANPR is never
//! issued twice, whatever is restored).
//!
//! An ID is the keyed permutation of a counter; the counter lives in the database, so a database
//! restored from an older copy would count again from an old position and issue, to other
//! people, IDs already issued since. The mark is a small file beside the generator's key that
//! only grows: the database may issue counters only below it (`counters.ceiling`, enforced by a
//! trigger on both backends), and the register raises the mark, durably and before the ceiling,
//! one block at a time. On start ([`IdHighWater::resume`]) the counter moves up to the mark: a
//! restored database starts past every counter that may have been issued since its copy was made.
//! A restore replaces the database, never this file (`docs/operations.md`).
//!
//! The register also signs the mark into each checkpoint of its trace ([`crate::checkpoint`]),
//! which are kept outside the database too: given that copy ([`IdHighWater::with_signed_copy`]),
//! a start goes past the highest mark the register ever signed, even if the file was lost or
//! restored from an older copy of the keys.

use crate::{CheckpointFile, CheckpointKey, Result, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file holding the mark, and how far each raise reserves.
#[derive(Debug)]
pub struct IdHighWater {
    path: PathBuf,
    block: i64,
    lock: tokio::sync::Mutex<()>,
    /// The checkpoints outside the database and the key that signed them.
    signed: Option<(CheckpointFile, CheckpointKey)>,
}

const HEADER: &str = "anagrafe ID ANPR high-water mark: counters below it may have been issued; it never decreases\n";

impl IdHighWater {
    /// The mark kept in `path`, raised `block` counters at a time (10 000 in production: one
    /// small durable write per 10 000 IDs).
    pub fn new(path: impl Into<PathBuf>, block: i64) -> Self {
        Self { path: path.into(), block: block.max(1), lock: tokio::sync::Mutex::new(()), signed: None }
    }

    /// Also reads the mark from the latest checkpoint in `file` that `key` signed.
    pub fn with_signed_copy(mut self, file: CheckpointFile, key: CheckpointKey) -> Self {
        self.signed = Some((file, key));
        self
    }

    /// The mark of the latest checkpoint the register signed with one (marks in signed
    /// checkpoints only grow); checkpoints whose signature fails are passed over.
    pub fn signed_mark(&self) -> Result<Option<i64>> {
        let Some((file, key)) = &self.signed else { return Ok(None) };
        let all = file.read_all().map_err(|e| StoreError::Invalid(format!("cannot read {}: {e}", file.path().display())))?;
        Ok(all.iter().rev().filter(|c| c.id_high_water.is_some()).find(|c| key.verifies(c)).and_then(|c| c.id_high_water))
    }

    /// The mark's file: beside the generator's key, `<key>.high-water`.
    pub fn beside_key(key: &Path) -> PathBuf {
        let mut name = key.file_name().unwrap_or_default().to_os_string();
        name.push(".high-water");
        key.with_file_name(name)
    }

    /// The mark, or `None` before the first one is written.
    pub fn read(&self) -> Result<Option<i64>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                let value = text.lines().nth(1).and_then(|l| l.trim().parse::<i64>().ok());
                value
                    .filter(|v| *v >= 0)
                    .map(Some)
                    .ok_or_else(|| StoreError::Corrupt(format!("{} is not a high-water mark", self.path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Invalid(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    /// Writes the mark durably: a new file, synced, renamed over the old one, the directory synced.
    fn write(&self, value: i64) -> Result<()> {
        let io = |e: std::io::Error| StoreError::Invalid(format!("cannot write {}: {e}", self.path.display()));
        let tmp = self.path.with_extension("high-water.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        writeln!(f, "{HEADER}{value}").map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }

    /// Raises the mark in the file to `value` if it is lower or missing (never lowers it): a
    /// restore that sets aside the checkpoints past the restored trace keeps the mark they
    /// signed. Answers the mark now in the file.
    pub fn ensure_at_least(&self, value: i64) -> Result<i64> {
        match self.read()? {
            Some(mark) if mark >= value => Ok(mark),
            _ => {
                self.write(value)?;
                Ok(value)
            }
        }
    }

    /// Brings the database in line with the mark when the register starts: the counter moves up
    /// to the mark (a restored copy starts past every ID issued since), and the ceiling is set
    /// there, so the first ID issued raises the mark first. The mark is the file's or the latest
    /// signed checkpoint's, whichever is higher. A register that never kept a mark (a new one, or
    /// one from before marks) writes one at its counter; one whose database shows it kept a mark,
    /// but whose mark is gone from the file and from every signed checkpoint, refuses to start: it
    /// cannot know how far it went. Answers the counter the register goes on from.
    pub async fn resume(&self, store: &dyn Store) -> Result<i64> {
        let _held = self.lock.lock().await;
        let (next, ceiling) = store.id_counter().await?;
        let in_file = self.read()?;
        let mark = match (in_file, self.signed_mark()?) {
            (Some(file), signed) => file.max(signed.unwrap_or(0)),
            (None, Some(signed)) => signed,
            (None, None) if ceiling.is_some() => {
                return Err(StoreError::Invalid(format!(
                    "the ID ANPR high-water mark {} is missing, yet this register kept one: restore it with the keys, \
                     or write one above the highest counter ever issued (docs/operations.md, Backup)",
                    self.path.display()
                )));
            }
            (None, None) => next,
        };
        let from = next.max(mark);
        if in_file.is_none_or(|file| from > file) {
            self.write(from)?;
        }
        store.set_id_limits(from, from).await?;
        Ok(from)
    }

    /// Reserves at least `needed` more counters: the mark first (durably), then the database's
    /// ceiling. Called when the database refuses a counter past its ceiling
    /// ([`StoreError::IdCeiling`]); concurrent callers raise it once.
    pub async fn raise(&self, store: &dyn Store, needed: i64) -> Result<()> {
        let _held = self.lock.lock().await;
        let (next, ceiling) = store.id_counter().await?;
        if ceiling.is_some_and(|c| c >= next + needed.max(1)) {
            // Another caller raised it meanwhile.
            return Ok(());
        }
        // Never below the mark already written (the file only grows).
        let target = (next + self.block.max(needed)).max(self.read()?.unwrap_or(0));
        self.write(target)?;
        store.set_id_limits(next, target).await
    }
}
