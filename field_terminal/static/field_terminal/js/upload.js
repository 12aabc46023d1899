// Photo upload with progress: XMLHttpRequest, because fetch() cannot report upload progress.

/** The csrftoken cookie's value: DRF's SessionAuthentication wants it in X-CSRFToken. */
export function csrfToken(cookie = globalThis.document?.cookie ?? '') {
  const match = cookie.split(';').map((part) => part.trim()).find((part) => part.startsWith('csrftoken='));
  return match ? decodeURIComponent(match.slice('csrftoken='.length)) : '';
}

/**
 * POST one file to the hub's media endpoint (PROTOCOL.md "Files").
 * @param {File|Blob} file
 * @param {object} options
 * @param {'image'|'audio'|'video'} options.kind
 * @param {(fraction: number) => void} [options.onProgress] 0..1 as the bytes go out
 * @returns {Promise<{id: string, url: string, sha256: string}>}
 */
export function uploadMedia(file, { kind, onProgress = () => {}, url = '/api/v1/media/' }) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', url);
    request.setRequestHeader('X-CSRFToken', csrfToken());
    request.responseType = 'json';
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status === 201) resolve(request.response);
      else reject(new Error(request.response?.error ?? request.response?.detail ?? `HTTP ${request.status}`));
    };
    request.onerror = () => reject(new Error('network'));
    const form = new FormData();
    form.append('file', file);
    form.append('kind', kind);
    request.send(form);
  });
}
