//! Planning: one request checked against the current data plus the earlier members of its
//! group (ids, visibility, `If-Match` versions), turned into the ops to log and the answer to
//! give once they are durable. Nothing here touches the log or the published snapshot.

use std::collections::HashMap;

use super::super::parse::apply_patch;
use super::super::{Edit, EditError, NewFeature, Patch, Precondition, WrittenFeature};
use crate::index::Snapshot;
use crate::ingest::Rejection;
use serde_json::{Map, Value as Json};

use crate::model::{
    Access, CONFIDENTIAL_LAYER, Feature, FeatureId, Layer, MAX_FEATURE_ID, Project, ProjectId,
};
use crate::store::Op;

/// What the earlier members of a group did, by feature: its new state (`None`: deleted).
pub(super) type Overlay = HashMap<(Layer, FeatureId), Option<Feature>>;

/// The same for stored projects.
pub(super) type ProjectOverlay = HashMap<ProjectId, Option<Project>>;

/// A planned request: the ops to log and the answer to give once durable.
#[derive(Debug)]
pub(super) struct Planned {
    pub ops: Vec<Op>,
    pub features: Vec<WrittenFeature>,
    /// `None` for a project.
    pub layer: Option<Layer>,
}

impl Planned {
    /// A plan of one op on one feature.
    fn one(layer: Layer, op: Op, written: WrittenFeature) -> Planned {
        Planned {
            ops: vec![op],
            features: vec![written],
            layer: Some(layer),
        }
    }

    /// A plan of one op on one project.
    fn project(op: Op, written: WrittenFeature) -> Planned {
        Planned {
            ops: vec![op],
            features: vec![written],
            layer: None,
        }
    }
}

/// Plans one request of `access` over `current` seen through `overlay`; takes new ids from
/// (and moves past explicit ids in) `next_id`, one counter per layer.
pub(super) struct Planner<'a> {
    pub current: &'a Snapshot,
    pub overlay: &'a Overlay,
    pub next_id: &'a mut [FeatureId; 5],
    pub projects: &'a ProjectOverlay,
    pub next_project: &'a mut ProjectId,
    pub access: Access,
    /// Whether an explicit id moves the layer's id counter past it (embedded); a replica's
    /// writer takes ids from its own block of the database's sequence only.
    pub follow_explicit_ids: bool,
}

impl Planner<'_> {
    /// The ops and the answer of one request, or why it is refused.
    pub fn plan(mut self, edit: Edit) -> Result<Planned, EditError> {
        match edit {
            Edit::Create { layer, features } => self.create(layer, features),
            Edit::Replace {
                layer,
                id,
                feature,
                precondition,
            } => self.replace(layer, id, feature, &precondition),
            Edit::Patch {
                layer,
                id,
                patch,
                precondition,
            } => self.patch(layer, id, &patch, &precondition),
            Edit::Delete {
                layer,
                id,
                precondition,
            } => self.delete(layer, id, &precondition),
            Edit::CreateProject { doc } => self.create_project(doc),
            Edit::ReplaceProject {
                id,
                doc,
                precondition,
            } => self.replace_project(id, doc, &precondition),
            Edit::DeleteProject { id, precondition } => self.delete_project(id, &precondition),
        }
    }

    /// The project as the group sees it, if the caller may see it.
    fn visible_project(&self, id: ProjectId) -> Option<Project> {
        let p = match self.projects.get(&id) {
            Some(p) => p.clone(),
            None => self.current.projects.get(&id).map(|p| (**p).clone()),
        };
        p.filter(|p| self.access.sees_project(p))
    }

    /// `POST /projects`: the next free id, version 1. A document the caller could not see
    /// (confidential, for a key without the partners right) is refused: it would write what
    /// it cannot read back.
    fn create_project(&mut self, doc: Map<String, Json>) -> Result<Planned, EditError> {
        let mut project = Project {
            id: 0,
            version: 1,
            doc,
        };
        if !self.access.sees_project(&project) {
            return Err(EditError::ProjectsNeedPartners);
        }
        loop {
            let id = *self.next_project;
            if id > MAX_FEATURE_ID {
                return Err(EditError::ProjectsFull);
            }
            *self.next_project = id + 1;
            let taken = match self.projects.get(&id) {
                Some(p) => p.is_some(),
                None => self.current.projects.contains_key(&id),
            };
            if !taken {
                project.id = id;
                break;
            }
        }
        let written = WrittenFeature {
            id: project.id,
            version: 1,
            created: true,
        };
        Ok(Planned::project(Op::PutProject { project }, written))
    }

    /// `PUT /projects/{id}`: replaces a project the caller sees (a hidden one is absent).
    fn replace_project(
        &mut self,
        id: ProjectId,
        doc: Map<String, Json>,
        precondition: &Precondition,
    ) -> Result<Planned, EditError> {
        let current = self.existing_project(id, precondition)?;
        let project = Project {
            id,
            version: current.version + 1,
            doc,
        };
        if !self.access.sees_project(&project) {
            return Err(EditError::ProjectsNeedPartners);
        }
        let written = WrittenFeature {
            id,
            version: project.version,
            created: false,
        };
        Ok(Planned::project(Op::PutProject { project }, written))
    }

    fn delete_project(
        &mut self,
        id: ProjectId,
        precondition: &Precondition,
    ) -> Result<Planned, EditError> {
        let current = self.existing_project(id, precondition)?;
        let written = WrittenFeature {
            id,
            version: current.version,
            created: false,
        };
        Ok(Planned::project(Op::DeleteProject { id }, written))
    }

    /// The project a `PUT` or `DELETE` works on: the precondition first, then it must exist
    /// for the caller.
    fn existing_project(
        &self,
        id: ProjectId,
        precondition: &Precondition,
    ) -> Result<Project, EditError> {
        let current = self.visible_project(id);
        let version = current.as_ref().map(|p| p.version);
        if !precondition.holds(version) {
            return Err(EditError::ProjectStale {
                id,
                current: version,
                expected: precondition.describe(),
            });
        }
        current.ok_or(EditError::ProjectNotFound(id))
    }

    /// The feature as the group sees it: earlier members of the group first, then the data.
    fn lookup(&self, layer: Layer, id: FeatureId) -> Option<Feature> {
        if let Some(f) = self.overlay.get(&(layer, id)) {
            return f.clone();
        }
        let data = self.current.layer(layer);
        data.row_of(id).map(|row| data.feature(row))
    }

    /// The feature as the caller sees it: one it may not see is, for it, absent (but it
    /// cannot be overwritten either).
    fn visible(&self, layer: Layer, id: FeatureId) -> Option<Feature> {
        self.lookup(layer, id)
            .filter(|f| self.access.sees(layer, f))
    }

    /// The next free id of a layer, or `None` past [`MAX_FEATURE_ID`].
    fn new_id(&mut self, layer: Layer) -> Option<FeatureId> {
        loop {
            let id = self.next_id[layer.index()];
            if id > MAX_FEATURE_ID {
                return None;
            }
            self.next_id[layer.index()] = id + 1;
            if self.lookup(layer, id).is_none() {
                return Some(id);
            }
        }
    }

    /// Moves the layer's id counter past an id chosen by the caller.
    fn reserve(&mut self, layer: Layer, id: FeatureId) {
        if !self.follow_explicit_ids {
            return;
        }
        let slot = &mut self.next_id[layer.index()];
        *slot = (*slot).max(id.saturating_add(1));
    }

    /// `POST`: checks the ids the caller chose, then gives every feature its id and version 1.
    fn create(&mut self, layer: Layer, features: Vec<NewFeature>) -> Result<Planned, EditError> {
        if features.iter().any(|nf| nf.id.is_some()) && !chooses_ids(self.access, layer) {
            return Err(EditError::IdsNeedPartners { layer });
        }
        let explicit: Vec<FeatureId> = features.iter().filter_map(|nf| nf.id).collect();
        if let Some(&id) = explicit
            .iter()
            .find(|&&id| self.lookup(layer, id).is_some())
        {
            return Err(EditError::Exists { layer, id });
        }
        for id in explicit {
            self.reserve(layer, id);
        }
        let mut ops = Vec::with_capacity(features.len());
        let mut written = Vec::with_capacity(features.len());
        for nf in features {
            let id = match nf.id {
                Some(id) => id,
                None => self
                    .new_id(layer)
                    .ok_or_else(|| no_free_id(written.len()))?,
            };
            let mut feature = nf.feature;
            feature.id = id;
            feature.version = 1;
            written.push(WrittenFeature {
                id,
                version: 1,
                created: true,
            });
            ops.push(Op::Put { layer, feature });
        }
        Ok(Planned {
            ops,
            features: written,
            layer: Some(layer),
        })
    }

    /// `PUT`: replaces a feature the caller sees, or creates it under an absent id where the
    /// caller may choose ids.
    fn replace(
        &mut self,
        layer: Layer,
        id: FeatureId,
        feature: NewFeature,
        precondition: &Precondition,
    ) -> Result<Planned, EditError> {
        let held = self.lookup(layer, id).is_some();
        let seen = self.visible(layer, id);
        // An id the caller cannot see is absent for it; it creates under an absent id only
        // where it may choose ids, so a free id and a hidden one answer alike.
        if seen.is_none() && (held || !chooses_ids(self.access, layer)) {
            return Err(EditError::NotFound { layer, id });
        }
        let current = seen.map(|f| f.version);
        check(precondition, layer, id, current)?;
        let mut f = feature.feature;
        f.id = id;
        f.version = current.map_or(1, |v| v + 1);
        if current.is_none() {
            self.reserve(layer, id);
        }
        let written = WrittenFeature {
            id,
            version: f.version,
            created: current.is_none(),
        };
        Ok(Planned::one(layer, Op::Put { layer, feature: f }, written))
    }

    /// `PATCH`: merges into a feature the caller sees and validates the result.
    fn patch(
        &mut self,
        layer: Layer,
        id: FeatureId,
        patch: &Patch,
        precondition: &Precondition,
    ) -> Result<Planned, EditError> {
        let current = self.existing(layer, id, precondition)?;
        let mut f = apply_patch(layer, &current, patch).map_err(|reason| EditError::Rejected {
            rejected: vec![Rejection { index: 0, reason }],
            total: 1,
        })?;
        f.version = current.version + 1;
        let written = WrittenFeature {
            id,
            version: f.version,
            created: false,
        };
        Ok(Planned::one(layer, Op::Put { layer, feature: f }, written))
    }

    /// `DELETE`: removes a feature the caller sees; answers with the version it had.
    fn delete(
        &mut self,
        layer: Layer,
        id: FeatureId,
        precondition: &Precondition,
    ) -> Result<Planned, EditError> {
        let current = self.existing(layer, id, precondition)?;
        let written = WrittenFeature {
            id,
            version: current.version,
            created: false,
        };
        Ok(Planned::one(layer, Op::Delete { layer, id }, written))
    }

    /// The feature a `PATCH` or `DELETE` works on: the precondition checked first (so a
    /// stale `If-Match` on an absent feature answers 412), then it must exist for the caller.
    fn existing(
        &self,
        layer: Layer,
        id: FeatureId,
        precondition: &Precondition,
    ) -> Result<Feature, EditError> {
        let current = self.visible(layer, id);
        check(precondition, layer, id, current.as_ref().map(|f| f.version))?;
        current.ok_or(EditError::NotFound { layer, id })
    }
}

/// The refusal of a batch whose feature `index` found no free id.
fn no_free_id(index: usize) -> EditError {
    EditError::Rejected {
        rejected: vec![Rejection {
            index,
            reason: crate::ingest::Reject::BadId("no free id left below 2^53".into()),
        }],
        total: index + 1,
    }
}

/// The one rule on ids for callers that cannot see every row: on a layer that can hold rows
/// hidden from the caller (confidential waste deposits, for a key without the partners right),
/// the caller may not choose ids, neither by `POST` with an `id` (refused whatever the id) nor
/// by `PUT` on an id it does not see (404, whether the id is free or held by a hidden row). So
/// a hidden row's id answers exactly as a free id does, and is never overwritten. Elsewhere
/// the caller sees every row and chooses ids freely.
pub fn chooses_ids(access: Access, layer: Layer) -> bool {
    access.partners() || layer != CONFIDENTIAL_LAYER
}

/// Checks an `If-Match` precondition against the version the caller sees (`None`: absent).
fn check(
    pre: &Precondition,
    layer: Layer,
    id: FeatureId,
    current: Option<u64>,
) -> Result<(), EditError> {
    if pre.holds(current) {
        return Ok(());
    }
    Err(EditError::Stale {
        layer,
        id,
        current,
        expected: pre.describe(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::edit::{parse_features, parse_patch, parse_replacement};
    use crate::model::Role;

    const LAYER: Layer = Layer::WasteDeposits;

    fn body(id: Option<u64>, quantity: f64) -> Vec<u8> {
        let mut f = serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [0.1, 49.4]},
            "properties": {"material": "wood", "quantity": quantity, "holder": "Scierie",
                "confidentiality": "public"},
        });
        if let Some(id) = id {
            f["id"] = serde_json::json!(id);
        }
        serde_json::to_vec(&f).unwrap()
    }

    /// A snapshot, an empty group and the id counters, as the writer holds them.
    struct Desk {
        snapshot: Snapshot,
        overlay: Overlay,
        next_id: [FeatureId; 5],
    }

    impl Desk {
        fn new() -> Desk {
            Desk {
                snapshot: Snapshot::new(0, []),
                overlay: Overlay::new(),
                next_id: [1; 5],
            }
        }

        fn plan(&mut self, edit: Edit) -> Result<Planned, EditError> {
            Planner {
                current: &self.snapshot,
                overlay: &self.overlay,
                next_id: &mut self.next_id,
                projects: &ProjectOverlay::new(),
                next_project: &mut 1,
                access: Access::key(Role::Editor, true),
                follow_explicit_ids: true,
            }
            .plan(edit)
        }

        /// Plans and applies to the snapshot, as an acknowledged write would.
        fn apply(&mut self, edit: Edit) -> Planned {
            let p = self.plan(edit).unwrap();
            let data = self.snapshot.layer(LAYER);
            let (mut puts, mut deletes) = (Vec::new(), Vec::new());
            for op in &p.ops {
                match op {
                    Op::Put { feature, .. } => puts.push(feature.clone()),
                    Op::Delete { id, .. } => deletes.push(*id),
                    Op::PutProject { .. } | Op::DeleteProject { .. } => {}
                }
            }
            let next = Arc::new(data.with_changes(puts, &deletes));
            self.snapshot = self.snapshot.with_layer(next);
            p
        }
    }

    fn create(ids: &[Option<u64>]) -> Edit {
        let features = ids
            .iter()
            .flat_map(|id| parse_features(LAYER, &body(*id, 4.0), 10).unwrap())
            .collect();
        Edit::Create {
            layer: LAYER,
            features,
        }
    }

    fn replace(id: u64, quantity: f64, precondition: Precondition) -> Edit {
        Edit::Replace {
            layer: LAYER,
            id,
            feature: parse_replacement(LAYER, id, &body(None, quantity)).unwrap(),
            precondition,
        }
    }

    fn delete(id: u64, precondition: Precondition) -> Edit {
        Edit::Delete {
            layer: LAYER,
            id,
            precondition,
        }
    }

    #[test]
    fn a_create_numbers_new_features_after_chosen_ids() {
        let mut desk = Desk::new();
        let p = desk.apply(create(&[Some(7), None, None]));
        let ids: Vec<_> = p
            .features
            .iter()
            .map(|w| (w.id, w.version, w.created))
            .collect();
        assert_eq!(ids, vec![(7, 1, true), (8, 1, true), (9, 1, true)]);
        assert_eq!(p.ops.len(), 3);
        assert!(p.ops.iter().all(|op| matches!(op, Op::Put { .. })));
        // The next create goes on after the highest id.
        let p = desk.apply(create(&[None]));
        assert_eq!(p.features[0].id, 10);
    }

    #[test]
    fn a_create_on_a_held_id_is_a_conflict_and_takes_nothing() {
        let mut desk = Desk::new();
        desk.apply(create(&[Some(3)]));
        let e = desk.plan(create(&[None, Some(3)])).unwrap_err();
        assert!(matches!(e, EditError::Exists { id: 3, .. }), "{e:?}");
        assert_eq!(desk.next_id[LAYER.index()], 4, "no id was used up");
    }

    #[test]
    fn an_update_moves_the_version_on_and_checks_if_match() {
        let mut desk = Desk::new();
        desk.apply(create(&[Some(5)]));
        let p = desk.apply(replace(5, 9.0, Precondition::Versions(vec![1])));
        assert_eq!(
            p.features,
            vec![WrittenFeature {
                id: 5,
                version: 2,
                created: false
            }]
        );
        // Version 1 is gone: If-Match on it is stale, and says what is current.
        let e = desk
            .plan(replace(5, 1.0, Precondition::Versions(vec![1])))
            .unwrap_err();
        assert!(
            matches!(
                e,
                EditError::Stale {
                    current: Some(2),
                    ..
                }
            ),
            "{e:?}"
        );
        // A patch goes on from version 2.
        let patch = parse_patch(br#"{"properties": {"quantity": 2.5}}"#).unwrap();
        let p = desk.apply(Edit::Patch {
            layer: LAYER,
            id: 5,
            patch,
            precondition: Precondition::Exists,
        });
        assert_eq!(p.features[0].version, 3);
    }

    #[test]
    fn a_replace_of_an_absent_id_creates_it() {
        let mut desk = Desk::new();
        let p = desk.apply(replace(12, 1.0, Precondition::None));
        assert!(p.features[0].created);
        assert_eq!(p.features[0].version, 1);
        assert_eq!(desk.plan(create(&[None])).unwrap().features[0].id, 13);
        // If-Match: * asks for an existing feature.
        let e = desk
            .plan(replace(20, 1.0, Precondition::Exists))
            .unwrap_err();
        assert!(matches!(e, EditError::Stale { current: None, .. }), "{e:?}");
    }

    #[test]
    fn a_delete_answers_the_version_it_removed_and_then_404() {
        let mut desk = Desk::new();
        desk.apply(create(&[Some(2)]));
        let p = desk.apply(delete(2, Precondition::None));
        assert_eq!(
            p.ops,
            vec![Op::Delete {
                layer: LAYER,
                id: 2
            }]
        );
        assert_eq!(p.features[0].version, 1);
        let e = desk.plan(delete(2, Precondition::None)).unwrap_err();
        assert!(matches!(e, EditError::NotFound { id: 2, .. }), "{e:?}");
    }

    #[test]
    fn the_group_overlay_is_seen_before_the_data() {
        let mut desk = Desk::new();
        desk.apply(create(&[Some(1)]));
        // An earlier member of the group deleted 1: for this one it is absent.
        desk.overlay.insert((LAYER, 1), None);
        let e = desk.plan(delete(1, Precondition::None)).unwrap_err();
        assert!(matches!(e, EditError::NotFound { .. }), "{e:?}");
        // And its id may be taken again.
        assert!(desk.plan(create(&[Some(1)])).is_ok());
    }

    #[test]
    fn ids_are_chosen_freely_where_nothing_is_hidden() {
        let plain = Access::key(Role::Editor, false);
        assert!(!chooses_ids(plain, CONFIDENTIAL_LAYER));
        assert!(chooses_ids(
            Access::key(Role::Editor, true),
            CONFIDENTIAL_LAYER
        ));
        assert!(chooses_ids(
            Access::key(Role::Admin, false),
            CONFIDENTIAL_LAYER
        ));
        for layer in Layer::ALL.into_iter().filter(|l| *l != CONFIDENTIAL_LAYER) {
            assert!(chooses_ids(plain, layer), "{layer}");
        }
    }
}
