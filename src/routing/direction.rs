//! Which way travel times run: from the sources outwards, or from everywhere towards them.
//! Its own module so that the graph (which picks the adjacency of a direction) and the search
//! (which walks it) both depend on it without depending on each other.

use std::fmt;
use std::str::FromStr;

/// Which way travel times run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the sources to everywhere.
    From,
    /// From everywhere to the sources.
    To,
}

impl Direction {
    pub fn id(self) -> &'static str {
        match self {
            Direction::From => "from",
            Direction::To => "to",
        }
    }

    /// The other direction: the one a path found by a search is walked back in.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::From => Direction::To,
            Direction::To => Direction::From,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A direction that is neither `from` nor `to` (the text given, trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("direction must be `from` or `to`, got `{0}`")]
pub struct UnknownDirection(pub String);

impl FromStr for Direction {
    type Err = UnknownDirection;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "from" => Ok(Direction::From),
            "to" => Ok(Direction::To),
            other => Err(UnknownDirection(other.to_string())),
        }
    }
}
