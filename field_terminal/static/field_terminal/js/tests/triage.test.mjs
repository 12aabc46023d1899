import assert from 'node:assert/strict';
import { test } from 'node:test';

import { METHODS, triagePath, triageStep } from '../triage.js';

// Expected categories written from the published algorithms (see triage.js), one row per
// decision path, not computed from the rules under test.
const PATHS = [
  ['START', [['walks', 'yes']], 'green'],
  ['START', [['walks', 'no'], ['breathing', 'no'], ['breathing_after_airway', 'no']], 'black'],
  ['START', [['walks', 'no'], ['breathing', 'no'], ['breathing_after_airway', 'yes']], 'red'],
  ['START', [['walks', 'no'], ['breathing', 'yes'], ['rr_over_30', 'yes']], 'red'],
  ['START', [['walks', 'no'], ['breathing', 'yes'], ['rr_over_30', 'no'], ['poor_perfusion', 'yes']], 'red'],
  ['START', [['walks', 'no'], ['breathing', 'yes'], ['rr_over_30', 'no'], ['poor_perfusion', 'no'],
    ['obeys_commands', 'no']], 'red'],
  ['START', [['walks', 'no'], ['breathing', 'yes'], ['rr_over_30', 'no'], ['poor_perfusion', 'no'],
    ['obeys_commands', 'yes']], 'yellow'],
  ['JumpSTART', [['walks', 'yes']], 'green'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'no'], ['breathing_after_airway', 'yes']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'no'], ['breathing_after_airway', 'no'],
    ['pulse_while_apneic', 'no']], 'black'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'no'], ['breathing_after_airway', 'no'],
    ['pulse_while_apneic', 'yes'], ['breathing_after_rescue_breaths', 'yes']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'no'], ['breathing_after_airway', 'no'],
    ['pulse_while_apneic', 'yes'], ['breathing_after_rescue_breaths', 'no']], 'black'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', 'under_15']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', 'over_45']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', '15_to_45'],
    ['peripheral_pulse', 'no']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', '15_to_45'],
    ['peripheral_pulse', 'yes'], ['avpu', 'U']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', '15_to_45'],
    ['peripheral_pulse', 'yes'], ['avpu', 'P_inappropriate']], 'red'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', '15_to_45'],
    ['peripheral_pulse', 'yes'], ['avpu', 'P_appropriate']], 'yellow'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', '15_to_45'],
    ['peripheral_pulse', 'yes'], ['avpu', 'A']], 'yellow'],
  ['JumpSTART', [['walks', 'no'], ['breathing', 'yes'], ['child_rr', '15_to_45'],
    ['peripheral_pulse', 'yes'], ['avpu', 'V']], 'yellow'],
  ['SALT', [['breathing_after_airway', 'no']], 'black'],
  ['SALT', [['breathing_after_airway', 'yes'], ['obeys_or_purposeful', 'no'],
    ['likely_to_survive', 'yes']], 'red'],
  ['SALT', [['breathing_after_airway', 'yes'], ['obeys_or_purposeful', 'yes'],
    ['peripheral_pulse', 'no'], ['likely_to_survive', 'no']], 'black'],
  ['SALT', [['breathing_after_airway', 'yes'], ['obeys_or_purposeful', 'yes'],
    ['peripheral_pulse', 'yes'], ['no_respiratory_distress', 'yes'], ['hemorrhage_controlled', 'no'],
    ['likely_to_survive', 'yes']], 'red'],
  ['SALT', [['breathing_after_airway', 'yes'], ['obeys_or_purposeful', 'yes'],
    ['peripheral_pulse', 'yes'], ['no_respiratory_distress', 'yes'], ['hemorrhage_controlled', 'yes'],
    ['minor_injuries_only', 'yes']], 'green'],
  ['SALT', [['breathing_after_airway', 'yes'], ['obeys_or_purposeful', 'yes'],
    ['peripheral_pulse', 'yes'], ['no_respiratory_distress', 'yes'], ['hemorrhage_controlled', 'yes'],
    ['minor_injuries_only', 'no']], 'yellow'],
];

for (const [method, path, category] of PATHS) {
  const label = path.map(([q, a]) => `${q}=${a}`).join(', ');
  test(`${method}: ${label} -> ${category}`, () => {
    assert.equal(triagePath(method, path).category, category);
  });
}

// Every answer sequence the wizard can produce, by walking each tree to its leaves.
function allPaths(method, answers = {}, path = []) {
  const step = triageStep(method, answers);
  if (step.done) return [{ path, result: step }];
  return step.options.flatMap((option) =>
    allPaths(method, { ...answers, [step.question]: option }, [...path, [step.question, option]]));
}

test('every path of every method ends in one of the four categories within six questions', () => {
  for (const method of METHODS) {
    const leaves = allPaths(method);
    assert.ok(leaves.length >= 5, method);
    for (const { path, result } of leaves) {
      assert.ok(['red', 'yellow', 'green', 'black'].includes(result.category), method);
      assert.ok(path.length <= 6, `${method}: ${path.length} questions`);
      assert.equal(typeof result.reason, 'string');
    }
  }
});

test('the table covers every leaf of START and JumpSTART', () => {
  for (const method of ['START', 'JumpSTART']) {
    const tabled = new Set(PATHS.filter(([m]) => m === method).map(([, p]) => JSON.stringify(p)));
    for (const { path } of allPaths(method)) assert.ok(tabled.has(JSON.stringify(path)), JSON.stringify(path));
  }
});

test('a walking adult is green after one question and an apneic adult black after three', () => {
  assert.equal(triagePath('START', [['walks', 'yes']]).category, 'green');
  assert.equal(triagePath('START', [['walks', 'no'], ['breathing', 'no'],
    ['breathing_after_airway', 'no']]).category, 'black');
});

test('a path that skips a question or gives an unknown answer is refused', () => {
  assert.throws(() => triagePath('START', [['breathing', 'no']]), /expected "walks"/);
  assert.throws(() => triagePath('START', [['walks', 'maybe']]), /not an answer/);
  assert.throws(() => triagePath('START', [['walks', 'no']]), /ends before a decision/);
  assert.throws(() => triageStep('XYZ', {}), /unknown triage method/);
});
