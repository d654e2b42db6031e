-- Radius 5 km + material filter around one of the 1,000 centres, as a GeoJSON FeatureCollection
-- ordered by geodesic distance (ellipsoid), first page of :limit features with the match count:
-- what terriens' /layers/waste_deposits/search?radius_m=5000&material=wood returns.
\set i random(1, 1000)
select json_build_object('type', 'FeatureCollection',
         'numberMatched', coalesce(max(n), 0), 'numberReturned', count(f),
         'features', coalesce(json_agg(f order by d, id), '[]'::json))
from (
  select w.d, w.n, w.fid as id, json_build_object('type', 'Feature', 'id', w.fid,
           'geometry', ST_AsGeoJSON(w.geom)::json,
           'properties', json_build_object('name', w.name, 'source', w.source,
             'territory', w.territory, 'commune_insee', w.commune_insee, 'material', w.material,
             'waste_code', w.waste_code, 'hazardous', w.hazardous, 'quantity', w.quantity,
             'unit', w.unit, 'frequency', w.frequency, 'holder', w.holder,
             'confidentiality', w.confidentiality, 'distance_m', round(w.d::numeric, 2))) f
  from centres c
  cross join lateral (
    select w.*, ST_Distance(w.geom::geography, c.g) d, count(*) over () n
    from waste_deposits w
    where w.material = 'wood' and ST_DWithin(w.geom::geography, c.g, 5000)
    order by d, w.fid
    limit :limit
  ) w
  where c.i = :i
) q;
