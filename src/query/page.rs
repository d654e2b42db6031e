//! Pages of results and the cursors that link them.
//!
//! A cursor carries the data generation, a fingerprint of the query (layer, area, filters,
//! sort) and the offset of the next page, with a check sum. Results are in a total order
//! (distance or another key, then feature id or storage row), so while the data does not change
//! a cursor always names the same page. A cursor from another generation, another query, or
//! that was mistyped is rejected with a message that says which.

use std::cmp::Ordering;

use super::QueryError;

/// Where a page starts, bound to one data generation and one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub generation: u64,
    pub fingerprint: u64,
    pub offset: usize,
}

impl Cursor {
    /// The opaque text of the cursor.
    ///
    /// ```
    /// use terriens::query::Cursor;
    /// let c = Cursor { generation: 3, fingerprint: 0xfeed, offset: 200 };
    /// assert_eq!(Cursor::decode(&c.encode()), Ok(c));
    /// assert!(Cursor::decode("3.feed.c8.0000").is_err());
    /// ```
    pub fn encode(&self) -> String {
        format!(
            "{:x}.{:x}.{:x}.{:04x}",
            self.generation,
            self.fingerprint,
            self.offset,
            self.check()
        )
    }

    /// Reads a cursor's text.
    pub fn decode(s: &str) -> Result<Cursor, QueryError> {
        let bad = || QueryError::CursorMalformed(s.chars().take(80).collect());
        let parts: Vec<&str> = s.trim().split('.').collect();
        let [g, f, o, c] = parts.as_slice() else {
            return Err(bad());
        };
        let hex = |t: &str| u64::from_str_radix(t, 16).map_err(|_| bad());
        let cursor = Cursor {
            generation: hex(g)?,
            fingerprint: hex(f)?,
            offset: usize::try_from(hex(o)?).map_err(|_| bad())?,
        };
        if hex(c)? != u64::from(cursor.check()) {
            return Err(bad());
        }
        Ok(cursor)
    }

    fn check(&self) -> u16 {
        let text = format!("{}:{}:{}", self.generation, self.fingerprint, self.offset);
        (fnv1a(text.as_bytes()) & 0xffff) as u16
    }

    /// Checks that the cursor belongs to this generation and this query.
    pub fn verify(&self, generation: u64, fingerprint: u64) -> Result<usize, QueryError> {
        if self.generation != generation {
            return Err(QueryError::CursorStale {
                issued: self.generation,
                current: generation,
            });
        }
        if self.fingerprint != fingerprint {
            return Err(QueryError::CursorForeign);
        }
        Ok(self.offset)
    }
}

/// 64-bit FNV-1a: stable across runs and builds, unlike `std`'s hasher.
pub use crate::model::hash::fnv1a;

/// Which page a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    pub fn first(limit: usize) -> PageRequest {
        PageRequest {
            limit,
            cursor: None,
        }
    }

    /// The offset of the page, once the cursor is checked against the query.
    pub fn offset(&self, generation: u64, fingerprint: u64) -> Result<usize, QueryError> {
        match &self.cursor {
            None => Ok(0),
            Some(c) => c.verify(generation, fingerprint),
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// How many results the query has in all pages.
    pub matched: usize,
    pub items: Vec<T>,
    pub offset: usize,
    pub limit: usize,
    /// The cursor of the next page, if there is one.
    pub next: Option<Cursor>,
    /// The cursor of the previous page, if this is not the first.
    pub prev: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page of `items` (already cut) among `matched` results.
    pub fn new(
        items: Vec<T>,
        matched: usize,
        offset: usize,
        limit: usize,
        generation: u64,
        fingerprint: u64,
    ) -> Page<T> {
        let at = |offset| Cursor {
            generation,
            fingerprint,
            offset,
        };
        let end = offset + items.len();
        Page {
            matched,
            next: (end < matched).then(|| at(end)),
            prev: (offset > 0).then(|| at(offset.saturating_sub(limit))),
            items,
            offset,
            limit,
        }
    }

    /// The same page with its items mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            matched: self.matched,
            items: self.items.into_iter().map(f).collect(),
            offset: self.offset,
            limit: self.limit,
            next: self.next,
            prev: self.prev,
        }
    }
}

/// Items `offset..offset + limit` of `items` in the order `cmp`, without sorting the rest:
/// a selection puts the first `offset + limit` in front, and only those are sorted.
pub fn cut<T>(
    mut items: Vec<T>,
    offset: usize,
    limit: usize,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Vec<T> {
    if offset >= items.len() {
        return Vec::new();
    }
    let end = offset.saturating_add(limit).min(items.len());
    if end < items.len() {
        items.select_nth_unstable_by(end, &cmp);
        items.truncate(end);
    }
    items.sort_unstable_by(&cmp);
    items.drain(..offset);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_equals_sort_then_slice() {
        let v: Vec<u32> = (0..100).map(|i| (i * 37) % 101).collect();
        let mut sorted = v.clone();
        sorted.sort();
        for (o, l) in [(0, 10), (5, 10), (95, 10), (100, 10), (0, 1000)] {
            let got = cut(v.clone(), o, l, |a, b| a.cmp(b));
            let want: Vec<u32> = sorted.iter().skip(o).take(l).copied().collect();
            assert_eq!(got, want, "{o} {l}");
        }
    }

    #[test]
    fn cursor_errors_say_why() {
        let c = Cursor {
            generation: 2,
            fingerprint: 9,
            offset: 10,
        };
        assert_eq!(c.verify(2, 9), Ok(10));
        assert!(matches!(
            c.verify(3, 9),
            Err(QueryError::CursorStale { .. })
        ));
        assert!(matches!(c.verify(2, 8), Err(QueryError::CursorForeign)));
        for bad in ["", "zz", "1.2.3", "1.2.3.4.5", "g.1.1.1"] {
            assert!(matches!(
                Cursor::decode(bad),
                Err(QueryError::CursorMalformed(_))
            ));
        }
        let mut text = c.encode();
        text.replace_range(0..1, "7");
        assert!(
            Cursor::decode(&text).is_err(),
            "a changed cursor fails its check"
        );
    }
}
