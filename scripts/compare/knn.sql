-- The 10 nearest deposits of one of the 1,000 centres (index kNN on the 4326 geometry, planar
-- distance in degrees, as in the issue: may differ from the geodesic order), as a
-- GeoJSON FeatureCollection with the same properties and geodesic distances as terriens'
-- /layers/waste_deposits/search?k=10.
\set i random(1, 1000)
select json_build_object('type', 'FeatureCollection', 'numberReturned', count(*),
         'features', json_agg(json_build_object('type', 'Feature', 'id', n.fid,
           'geometry', ST_AsGeoJSON(n.geom)::json,
           'properties', json_build_object('name', n.name, 'source', n.source,
             'territory', n.territory, 'commune_insee', n.commune_insee, 'material', n.material,
             'waste_code', n.waste_code, 'hazardous', n.hazardous, 'quantity', n.quantity,
             'unit', n.unit, 'frequency', n.frequency, 'holder', n.holder,
             'confidentiality', n.confidentiality,
             'distance_m', round(ST_Distance(n.geom::geography, c.g)::numeric, 2))) order by n.o))
from centres c
cross join lateral (
  select w.*, row_number() over () o from (
    select * from waste_deposits w order by w.geom <-> c.geom limit 10) w
) n
where c.i = :i;
