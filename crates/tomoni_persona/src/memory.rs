//! Conversation memory in one SQLite file (WAL mode) in the user's data folder: every turn with
//! its status, and long-term facts distilled from what the user said, retrieved by relevance
//! (FTS5, bm25) into the prompt within a token budget.
//!
//! Each write is one transaction: a killed process loses at most the turn being written, never
//! a committed one (tested with a real `kill -9`).

use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// One stored turn.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTurn {
    /// Row id.
    pub id: i64,
    /// Conversation id (imported conversations keep theirs).
    pub conversation: String,
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// The text.
    pub text: String,
    /// `complete` or `interrupted`.
    pub status: String,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
}

/// A long-term fact.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Row id (used by `forget`).
    pub id: i64,
    /// The fact, in the user's words.
    pub text: String,
}

/// An error with the database file named.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct MemoryError {
    /// The database file.
    pub path: String,
    /// What SQLite said.
    #[source]
    pub source: rusqlite::Error,
}

impl MemoryError {
    /// The disk (or the store's quota) is full: the one failure a person can fix by making room.
    pub fn disk_full(&self) -> bool {
        self.source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
    }
}

/// The memory store.
pub struct Memory {
    conn: Connection,
    path: PathBuf,
}

/// Default location: `$TOMONI_DATA_DIR/memory.sqlite3`, else the OS data folder.
pub fn default_path() -> PathBuf {
    let dir = std::env::var_os("TOMONI_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("tomoni")))
        .unwrap_or_else(|| PathBuf::from(".tomoni"));
    dir.join("memory.sqlite3")
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS turns(
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user','assistant','system')),
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete','interrupted')),
    created_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT 'tomoni'
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation, id);
CREATE TABLE IF NOT EXISTS facts(
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE,
    source_turn INTEGER REFERENCES turns(id) ON DELETE SET NULL,
    created_at REAL NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(text, content='facts', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS facts_ai AFTER INSERT ON facts BEGIN
    INSERT INTO facts_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS facts_ad AFTER DELETE ON facts BEGIN
    INSERT INTO facts_fts(facts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
";

/// Seconds since the Unix epoch: the time a turn is stored with.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Memory {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, MemoryError> {
        let e = |source| MemoryError { path: path.display().to_string(), source };
        let io = |io| e(rusqlite::Error::ToSqlConversionFailure(Box::new(io)));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if path == default_path() {
                crate::private::dir(dir).map_err(io)?; // the state folder: user only
            } else {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
        }
        // Created user-only before SQLite opens it: SQLite gives its -wal and -shm files the
        // database's mode. A store from an older version is tightened.
        if path.exists() {
            crate::private::tighten(path).map_err(io)?;
        } else if let Err(x) = crate::private::create_new(path)
            && x.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(io(x));
        }
        let conn = Connection::open(path).map_err(e)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(e)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        // NORMAL in WAL mode: a process crash loses nothing committed; only power loss can.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(e)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(e)?;
        conn.execute_batch(SCHEMA).map_err(e)?;
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> MemoryError {
        MemoryError { path: self.path.display().to_string(), source }
    }

    /// Stores a turn; user turns also yield facts. Returns the turn's id.
    pub fn add_turn(&mut self, conversation: &str, role: &str, text: &str, status: &str) -> Result<i64, MemoryError> {
        self.add_turn_at(conversation, role, text, status, now(), "tomoni")
    }

    /// Stores a turn with its own timestamp and source (imports keep the original times).
    pub fn add_turn_at(
        &mut self,
        conversation: &str,
        role: &str,
        text: &str,
        status: &str,
        created_at: f64,
        source: &str,
    ) -> Result<i64, MemoryError> {
        let tx =
            self.conn.transaction().map_err(|e| MemoryError { path: self.path.display().to_string(), source: e })?;
        let id = (|| {
            tx.execute(
                "INSERT INTO turns(conversation, role, text, status, created_at, source) VALUES (?1,?2,?3,?4,?5,?6)",
                params![conversation, role, text, status, created_at, source],
            )?;
            let id = tx.last_insert_rowid();
            if role == "user" {
                for f in distill_facts(text) {
                    tx.execute(
                        "INSERT OR IGNORE INTO facts(text, source_turn, created_at) VALUES (?1,?2,?3)",
                        params![f, id, created_at],
                    )?;
                }
            }
            tx.commit()?;
            Ok(id)
        })()
        .map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Replaces a conversation with `turns` (role, text, time) in one transaction: an import
    /// killed midway leaves the conversation as it was, never half written.
    pub fn replace_conversation(
        &mut self,
        conversation: &str,
        turns: &[(&str, &str, f64)],
        source: &str,
    ) -> Result<(), MemoryError> {
        let path = self.path.display().to_string();
        let tx = self.conn.transaction().map_err(|e| MemoryError { path: path.clone(), source: e })?;
        (|| {
            tx.execute("DELETE FROM turns WHERE conversation = ?1", params![conversation])?;
            for (role, text, at) in turns {
                tx.execute(
                    "INSERT INTO turns(conversation, role, text, status, created_at, source) VALUES (?1,?2,?3,'complete',?4,?5)",
                    params![conversation, role, text, at, source],
                )?;
                let id = tx.last_insert_rowid();
                if *role == "user" {
                    for f in distill_facts(text) {
                        tx.execute(
                            "INSERT OR IGNORE INTO facts(text, source_turn, created_at) VALUES (?1,?2,?3)",
                            params![f, id, at],
                        )?;
                    }
                }
            }
            tx.commit()
        })()
        .map_err(|e| MemoryError { path, source: e })
    }

    /// The last `n` turns of a conversation, oldest first.
    pub fn recent(&self, conversation: &str, n: usize) -> Result<Vec<StoredTurn>, MemoryError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, conversation, role, text, status, created_at FROM
                 (SELECT * FROM turns WHERE conversation = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st.query_map(params![conversation, n as i64], row_turn).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// All turns, oldest first (export).
    pub fn all_turns(&self) -> Result<Vec<StoredTurn>, MemoryError> {
        let mut all = Vec::new();
        self.for_each_turn(|t| {
            all.push(t);
            Ok::<_, std::convert::Infallible>(())
        })
        .map(|_| all)
    }

    /// Calls `each` on every turn, oldest first, one row at a time (an export of years of
    /// conversation never holds them all).
    pub fn for_each_turn<E>(
        &self,
        mut each: impl FnMut(StoredTurn) -> Result<(), E>,
    ) -> Result<Result<(), E>, MemoryError> {
        let mut st = self
            .conn
            .prepare("SELECT id, conversation, role, text, status, created_at FROM turns ORDER BY id")
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            if let Err(e) = each(row_turn(r).map_err(|e| self.err(e))?) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Number of turns stored in `conversation` (an import asks before storing one again).
    pub fn conversation_len(&self, conversation: &str) -> Result<usize, MemoryError> {
        self.conn
            .query_row("SELECT count(*) FROM turns WHERE conversation = ?1", params![conversation], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Number of stored turns.
    pub fn turn_count(&self) -> Result<i64, MemoryError> {
        self.conn.query_row("SELECT count(*) FROM turns", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// All facts, oldest first.
    pub fn facts(&self) -> Result<Vec<Fact>, MemoryError> {
        let mut st = self.conn.prepare("SELECT id, text FROM facts ORDER BY id").map_err(|e| self.err(e))?;
        let rows = st.query_map([], |r| Ok(Fact { id: r.get(0)?, text: r.get(1)? })).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Adds a fact directly (`remember`).
    pub fn add_fact(&mut self, text: &str) -> Result<(), MemoryError> {
        self.conn
            .execute("INSERT OR IGNORE INTO facts(text, created_at) VALUES (?1, ?2)", params![text.trim(), now()])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Forgets a fact by id; returns whether it existed.
    pub fn forget(&mut self, id: i64) -> Result<bool, MemoryError> {
        self.conn.execute("DELETE FROM facts WHERE id = ?1", params![id]).map(|n| n > 0).map_err(|e| self.err(e))
    }

    /// Facts most relevant to `query`, best first, within `token_budget` (about 4 characters a
    /// token). Words are matched as FTS5 prefixes, joined with OR, ranked by bm25.
    pub fn relevant_facts(&self, query: &str, token_budget: usize) -> Result<Vec<Fact>, MemoryError> {
        let terms: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .map(|w| format!("\"{}\"*", w.to_lowercase()))
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut st = self
            .conn
            .prepare(
                "SELECT facts.id, facts.text FROM facts_fts JOIN facts ON facts.id = facts_fts.rowid
                 WHERE facts_fts MATCH ?1 ORDER BY bm25(facts_fts) LIMIT 50",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![terms.join(" OR ")], |r| Ok(Fact { id: r.get(0)?, text: r.get(1)? }))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let mut used = 0;
        for f in rows {
            let f = f.map_err(|e| self.err(e))?;
            let cost = f.text.chars().count().div_ceil(4) + 2;
            if used + cost > token_budget {
                break;
            }
            used += cost;
            out.push(f);
        }
        Ok(out)
    }

    /// Text search over facts and turns (`tomoni memory search`).
    pub fn search_turns(&self, needle: &str, limit: usize) -> Result<Vec<StoredTurn>, MemoryError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, conversation, role, text, status, created_at FROM turns
                 WHERE text LIKE '%' || ?1 || '%' ESCAPE '\\' ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let rows = st.query_map(params![escaped, limit as i64], row_turn).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Whether SQLite finds the file intact.
    pub fn integrity_ok(&self) -> Result<bool, MemoryError> {
        let r: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| self.err(e))?;
        Ok(r == "ok")
    }

    /// The most recent conversation id, if any.
    pub fn last_conversation(&self) -> Result<Option<String>, MemoryError> {
        self.conn
            .query_row("SELECT conversation FROM turns WHERE source = 'tomoni' ORDER BY id DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }
}

fn row_turn(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredTurn> {
    Ok(StoredTurn {
        id: r.get(0)?,
        conversation: r.get(1)?,
        role: r.get(2)?,
        text: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// Facts worth keeping from what the user said about themselves: sentences in the first
/// person that state something lasting ("I live in Okayama", "my sister is called Aiko",
/// "remember that …"). Questions and passing moods ("I'm tired") are not facts.
pub fn distill_facts(text: &str) -> Vec<String> {
    const STARTS: [&str; 14] = [
        "i live",
        "i work",
        "i was born",
        "i love",
        "i like",
        "i hate",
        "i don't like",
        "i prefer",
        "my ",
        "remember that",
        "remember ",
        "i have a",
        "i am a",
        "i'm a",
    ];
    const PASSING: [&str; 6] = ["tired", "hungry", "bored", "sleepy", "busy today", "fine"];
    let mut out = Vec::new();
    for s in text.split(['.', '!', '\n', '。', '！']) {
        let s = s.trim();
        let lower = s.to_lowercase();
        if s.len() < 8 || s.ends_with('?') || lower.contains('?') {
            continue;
        }
        if STARTS.iter().any(|p| lower.starts_with(p)) && !PASSING.iter().any(|p| lower.contains(p)) {
            let fact = s.strip_prefix("remember that ").or_else(|| s.strip_prefix("Remember that ")).unwrap_or(s);
            out.push(fact.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tomoni-mem-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("memory.sqlite3")
    }

    #[test]
    fn turns_round_trip_with_status_in_wal_mode() {
        let p = tmp("round");
        let mut m = Memory::open(&p).unwrap();
        m.add_turn("c1", "user", "Hello!", "complete").unwrap();
        m.add_turn("c1", "assistant", "Hi, I was saying", "interrupted").unwrap();
        let r = m.recent("c1", 10).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].status, "interrupted");
        let mode: String = m.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert!(p.exists());
    }

    #[test]
    fn facts_are_distilled_from_user_turns_and_retrieved_by_relevance_within_budget() {
        let mut m = Memory::open(&tmp("facts")).unwrap();
        m.add_turn("c", "user", "I live in Okayama. My sister is called Aiko. Are you there?", "complete").unwrap();
        m.add_turn("c", "user", "I love hot springs and quiet mornings.", "complete").unwrap();
        m.add_turn("c", "assistant", "My favourite colour is blue.", "complete").unwrap(); // not the user's
        let facts: Vec<String> = m.facts().unwrap().into_iter().map(|f| f.text).collect();
        assert_eq!(facts, ["I live in Okayama", "My sister is called Aiko", "I love hot springs and quiet mornings"]);
        let hits = m.relevant_facts("Shall we visit your sister?", 100).unwrap();
        assert_eq!(hits[0].text, "My sister is called Aiko");
        assert!(m.relevant_facts("springs", 3).unwrap().is_empty(), "budget of 3 tokens fits no fact");
        assert!(m.relevant_facts("??", 100).unwrap().is_empty());
    }

    #[test]
    fn forget_removes_from_retrieval() {
        let mut m = Memory::open(&tmp("forget")).unwrap();
        m.add_fact("I play the cello").unwrap();
        let id = m.facts().unwrap()[0].id;
        assert_eq!(m.relevant_facts("cello", 100).unwrap().len(), 1);
        assert!(m.forget(id).unwrap());
        assert!(m.relevant_facts("cello", 100).unwrap().is_empty());
        assert!(!m.forget(id).unwrap());
    }

    #[test]
    fn distillation_skips_questions_and_moods() {
        assert!(distill_facts("I'm a bit tired today. Do I like tea?").is_empty());
        assert_eq!(distill_facts("remember that our anniversary is in June"), ["our anniversary is in June"]);
    }

    #[test]
    fn search_escapes_like_wildcards() {
        let mut m = Memory::open(&tmp("search")).unwrap();
        m.add_turn("c", "user", "100% sure", "complete").unwrap();
        m.add_turn("c", "user", "1000 sure", "complete").unwrap();
        assert_eq!(m.search_turns("0%", 10).unwrap().len(), 1);
    }
}
