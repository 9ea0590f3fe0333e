'use strict';
// Audio conferences (require(Modules.Conference)): a mix every participant hears.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { EmulatorHarness } = require('./helpers');

let emu;
before(async () => { emu = await new EmulatorHarness().start(); });
after(() => emu.stop());

test('createConference needs the module; the mix drops a leg that ends', async () => {
  await emu.callee('conf-a', { action: 'answer', after_ms: 10 });
  await emu.callee('conf-b', { action: 'answer', after_ms: 10, hangup_after_ms: 600 });
  const s = await emu.call(`
    let caller;
    const out = [];
    try { VoxEngine.createConference({ hd_audio: false }); out.push('ok'); } catch (err) { out.push(err.message); }
    try { ConferenceEvents.Started; out.push('ok'); } catch (err) { out.push(err.message); }
    require(Modules.Conference);
    const conf = VoxEngine.createConference({ hd_audio: false });
    Logger.write(JSON.stringify(out));
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      caller = e.call;
      caller.answer();
      caller.addEventListener(CallEvents.Connected, () => {
        VoxEngine.sendMediaBetween(caller, conf);
        for (const name of ['conf-a', 'conf-b']) {
          const leg = VoxEngine.callUser({ username: name, callerid: 'x' });
          leg.addEventListener(CallEvents.Connected, () => {
            leg.sendMediaTo(conf);
            conf.sendMediaTo(leg);
            Logger.write('joined ' + name);
          });
        }
      });
    });
  `);
  const out = JSON.parse((await s.wait('logger')).text);
  assert.match(out[0], /needs require\(Modules\.Conference\)/);
  assert.match(out[1], /ConferenceEvents/);
  await s.wait('logger', { text: 'joined conf-a' });
  await s.wait('logger', { text: 'joined conf-b' });
  let snap = await s.snapshot();
  const [conf] = snap.conferences;
  assert.equal(conf.inputs.length, 3);
  for (const leg of snap.legs) assert.deepEqual(leg.hearing, { kind: 'conference', from: conf.id });
  // conf-b hangs up: the other two still hear the mix, which no longer has conf-b.
  await s.wait('left_conference');
  snap = await s.snapshot();
  const b = snap.legs.find((l) => l.address === 'conf-b');
  assert.equal(snap.conferences[0].inputs.includes(b.id), false);
  assert.equal(snap.conferences[0].inputs.length, 2);
  const alive = snap.legs.filter((l) => l.id !== b.id);
  for (const leg of alive) assert.deepEqual(leg.hearing, { kind: 'conference', from: conf.id });
});

test('one-way media: a leg that only hears the conference is heard by nobody (hears)', async () => {
  await emu.callee('one-a', { action: 'answer', after_ms: 10 });
  await emu.callee('one-sup', { action: 'answer', after_ms: 10 });
  const s = await emu.call(`
    require(Modules.Conference);
    const conf = VoxEngine.createConference({ hd_audio: false });
    const whisper = VoxEngine.createConference({ hd_audio: false });
    VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
      const caller = e.call;
      caller.answer();
      caller.addEventListener(CallEvents.Connected, () => {
        VoxEngine.sendMediaBetween(caller, conf);
        const a = VoxEngine.callUser({ username: 'one-a', callerid: 'x' });
        a.addEventListener(CallEvents.Connected, () => {
          VoxEngine.sendMediaBetween(a, conf);
          const sup = VoxEngine.callUser({ username: 'one-sup', callerid: 'x' });
          sup.addEventListener(CallEvents.Connected, () => {
            conf.sendMediaTo(sup); // listens
            Logger.write('listen');
            VoxEngine.addEventListener(AppEvents.HttpRequest, () => {
              // whisper: a second mix of everyone plus the supervisor, heard by 'one-a' only
              caller.sendMediaTo(whisper);
              a.sendMediaTo(whisper);
              sup.sendMediaTo(whisper);
              whisper.sendMediaTo(a);
              return 'whisper';
            });
          });
        });
      });
    });
  `);
  await s.wait('logger', { text: 'listen' });
  let snap = await s.snapshot();
  const id = (address) => snap.legs.find((l) => l.address === address).id;
  const hears = (address) => snap.legs.find((l) => l.address === address).hears;
  const caller = snap.legs.find((l) => l.direction === 'in').id;
  assert.deepEqual(hears('one-sup'), [caller, id('one-a')].sort());
  assert.deepEqual(hears('one-a'), [caller]);
  assert.deepEqual(snap.legs.find((l) => l.id === caller).hears, [id('one-a')]);
  assert.equal((await s.send('{}')).text, 'whisper');
  snap = await s.snapshot();
  assert.deepEqual(hears('one-a'), [caller, id('one-sup')].sort());
  assert.deepEqual(snap.legs.find((l) => l.id === caller).hears, [id('one-a')]);
  assert.deepEqual(hears('one-sup'), [caller, id('one-a')].sort());
});
