'use strict';
// Draws each admin geometry field (GeoJSON text) on a Leaflet map; a click places a point.
// The admin loads form media in <head>, before the fields exist.
document.addEventListener('DOMContentLoaded', () => document.querySelectorAll('.geometry-widget').forEach((widget) => {
  const text = widget.querySelector('textarea');
  const map = L.map(widget.querySelector('.geometry-map'));
  if (widget.dataset.tilesUrl) L.tileLayer(widget.dataset.tilesUrl, { maxZoom: 19 }).addTo(map);
  let drawn = null;

  function parsed() {
    try {
      return JSON.parse(text.value);
    } catch {
      return null;
    }
  }

  function draw() {
    if (drawn) drawn.remove();
    drawn = null;
    const geometry = parsed();
    if (!geometry) {
      map.fitWorld();
      return;
    }
    drawn = L.geoJSON(geometry).addTo(map);
    map.fitBounds(drawn.getBounds(), { maxZoom: 15 });
  }

  if (widget.dataset.geomType === 'Point' && !text.disabled) {
    map.on('click', (event) => {
      const { lat, lng } = event.latlng.wrap();
      text.value = JSON.stringify({ type: 'Point', coordinates: [lng, lat] });
      draw();
    });
  }
  text.addEventListener('change', draw);
  draw();
}));
