// Deployment settings for inbound.voxengine.js. Copy to config.voxengine.js
// (never commit the real token), upload it as its own scenario, and list it
// before "inbound" in the routing rule (see rules.config.json): the platform
// concatenates a rule's scenarios into one session, so this runs first.
// Any key left out keeps the default from inbound.voxengine.js.

/** @type {Partial<SwitchboardConfig>} */
var SWITCHBOARD_CONFIG = {
  backendUrl: 'https://switchboard.example.com',
  platformToken: 'CHANGE_ME',
  musicUrl: 'https://switchboard.example.com/static/hold-music.mp3',
  language: 'en-US',
  announceEverySec: 30,
  ringTimeoutSec: 25,
  httpRetries: 4,
  // Caller id for PSTN legs (overflow to spare numbers) when the caller is not an
  // inbound PSTN caller (SIP, Web SDK, anonymous): a number rented in this account
  // or a verified caller id, E.164. Without it such legs are reported failed.
  pstnCallerId: '+15551234567',
  // The pin question: recognition profile ('Provider.language' in ASRProfileList)
  // and the words that mean yes and no in that language. '' means keys 1/2 only.
  asrProfile: 'Google.en_US',
  pinYesWords: ['yes', 'yeah', 'yep', 'sure', 'of course', 'okay', 'please do'],
  pinNoWords: ['no', 'nope', 'nah', 'no thanks', 'not really'],
  // For Russian: asrProfile: 'Google.ru_RU', language: 'ru-RU',
  //   pinYesWords: ['да', 'конечно', 'хорошо', 'давайте'], pinNoWords: ['нет', 'не надо', 'не нужно'],
};
