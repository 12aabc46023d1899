// The venue map (Leaflet, global `L`). Tiles are optional: with none configured, or none
// reachable offline, the venue outline and the medical posts are still drawn from the page.

/**
 * @param {HTMLElement} element
 * @param {object} config the page's config: venue (GeoJSON), posts, tiles {url, attribution}
 * @param {(point: {lat: number, lon: number}) => void} onTap
 */
export function venueMap(element, config, onTap) {
  const map = L.map(element, { zoomControl: true, attributionControl: Boolean(config.tiles.url) });
  if (config.tiles.url) {
    L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 }).addTo(map);
  }
  const layers = [];
  if (config.venue) {
    layers.push(L.geoJSON(config.venue, { style: { color: '#0b5cad', weight: 3, fillOpacity: 0.08 } }).addTo(map));
  }
  for (const post of config.posts) {
    const marker = L.circleMarker([post.lat, post.lon], { radius: 10, color: '#fff', weight: 3, fillColor: '#c62828', fillOpacity: 1 });
    marker.bindTooltip(post.label, { permanent: true, direction: 'right' }).addTo(map);
    layers.push(marker);
  }
  const bounds = layers.length ? L.featureGroup(layers).getBounds() : null;
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24] });
  else map.setView([0, 0], 2);
  let pin = null;
  map.on('click', (event) => onTap({ lat: event.latlng.lat, lon: event.latlng.lng }));
  return {
    /** Show where the casualty will be reported. */
    pin(point) {
      if (!point) {
        pin?.remove();
        pin = null;
        return;
      }
      // A vector marker: Leaflet's default icon is an image the offline cache may not hold.
      if (!pin) pin = L.circleMarker([point.lat, point.lon], { radius: 14, color: '#000', weight: 3, fillColor: '#ffbf47', fillOpacity: 1 }).addTo(map);
      else pin.setLatLng([point.lat, point.lon]);
    },
    // Leaflet measures its container once; a map in a screen that was hidden must re-measure.
    refresh() {
      map.invalidateSize();
      if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24] });
    },
  };
}
