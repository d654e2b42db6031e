//! One result row, and the admission test every query applies to candidate rows: the
//! caller's view (hidden rows never admitted), the attribute filter, an optional drive-time gate.

use super::drive::DriveGate;
use crate::index::{LayerData, VisibleFilter};
use crate::model::{FeatureId, Layer};

/// A feature a query returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub layer: Layer,
    pub row: u32,
    pub id: FeatureId,
    /// Metres from the query point, when the query has one.
    pub distance_m: Option<f64>,
    /// Seconds of driving from the drive-time origin, when the query has one.
    pub drive_s: Option<f64>,
}

/// Which rows a query admits: the rows of the caller's view that pass the attribute filter
/// and, optionally, a drive-time budget.
#[derive(Debug, Clone, Copy)]
pub struct Selector<'a> {
    pub filter: VisibleFilter<'a>,
    pub drive: Option<DriveGate<'a>>,
}

impl<'a> Selector<'a> {
    pub fn new(filter: VisibleFilter<'a>) -> Selector<'a> {
        Selector {
            filter,
            drive: None,
        }
    }

    pub fn with_drive(mut self, drive: Option<DriveGate<'a>>) -> Selector<'a> {
        self.drive = drive;
        self
    }

    /// The layer's columns, for rows this selector admits.
    #[inline]
    pub fn data(&self) -> &'a LayerData {
        self.filter.data()
    }

    /// `None` when the row is not admitted; otherwise its drive time, if a gate is set.
    #[inline]
    pub fn admit(&self, row: u32) -> Option<Option<f64>> {
        if !self.filter.matches(row) {
            return None;
        }
        match &self.drive {
            None => Some(None),
            Some(gate) => gate.admit(self.data().layer(), row).map(Some),
        }
    }

    /// A hit for an admitted row.
    #[inline]
    pub(crate) fn hit(
        data: &LayerData,
        row: u32,
        distance_m: Option<f64>,
        drive_s: Option<f64>,
    ) -> Hit {
        Hit {
            layer: data.layer(),
            row,
            id: data.id(row),
            distance_m,
            drive_s,
        }
    }
}
