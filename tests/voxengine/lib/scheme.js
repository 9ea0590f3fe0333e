'use strict';
// The emulator's stand-in for the codec description in CallAlerting.scheme,
// shaped as the typings declare CallParameters.scheme: a JSON object of
// streams, each {audio, video}. A voice call's stream has no video codecs
// (but its text still mentions "video"); a video call's stream has some.
const VOICE_SCHEME = JSON.stringify({ 1: { audio: ['opus', 'PCMA', 'PCMU'], video: [] } });
const VIDEO_SCHEME = JSON.stringify({ 1: { audio: ['opus', 'PCMA', 'PCMU'], video: ['VP8', 'H264'] } });

/** Whether a scheme (the typings' shape, as an object or its JSON) offers video codecs. */
function schemeHasVideo(scheme) {
  let value = scheme;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return false;
    }
  }
  if (!value || typeof value !== 'object') return false;
  return Object.values(value).some((stream) => stream && typeof stream === 'object' && hasCodecs(stream.video));
}

function hasCodecs(video) {
  if (Array.isArray(video)) return video.length > 0;
  if (video && typeof video === 'object') return Object.keys(video).length > 0;
  return Boolean(video);
}

module.exports = { VOICE_SCHEME, VIDEO_SCHEME, schemeHasVideo };
