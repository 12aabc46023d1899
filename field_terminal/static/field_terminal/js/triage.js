// Triage decision rules as pure functions: answers in, the next question or a category out.
// No DOM, no clock, so the same rules run in the tablet's wizard and under `node --test`.
//
// Sources, followed step by step:
// - START (Simple Triage and Rapid Treatment), Newport Beach Fire Department and Hoag
//   Hospital, 1983; as summarised by Benson, Koenig and Schultz, "Disaster triage: START,
//   then SAVE", Prehosp Disaster Med 1996;11(2):117-124; and CHEMM's START adult algorithm.
// - JumpSTART pediatric MCI triage, Romig L.E., 1995, revised 2002 (jumpstarttriage.com),
//   for children who appear to be 1 to 8 years old.
// - SALT (Sort, Assess, Lifesaving interventions, Treatment/transport), Lerner E.B. et al.,
//   "Mass casualty triage: an evaluation of the data and development of a proposed national
//   guideline", Disaster Med Public Health Prep 2008;2(S1):S25-S34; the Model Uniform Core
//   Criteria (2011).
//
// The hub's categories are red (immediate), yellow (delayed), green (minor), black. SALT
// separates expectant (grey) from dead; both are `black` on the wire, and the reason keeps
// which one it was.

const YES_NO = ['yes', 'no'];

function ask(question, options = YES_NO) {
  return { done: false, question, options };
}

function outcome(category, reason) {
  return { done: true, category, reason };
}

function start(a) {
  if (a.walks === undefined) return ask('walks');
  if (a.walks === 'yes') return outcome('green', 'walking_wounded');
  if (a.breathing === undefined) return ask('breathing');
  if (a.breathing === 'no') {
    // START: position the airway once; a casualty who then breathes is immediate.
    if (a.breathing_after_airway === undefined) return ask('breathing_after_airway');
    return a.breathing_after_airway === 'yes'
      ? outcome('red', 'breathes_after_airway')
      : outcome('black', 'apneic_after_airway');
  }
  if (a.rr_over_30 === undefined) return ask('rr_over_30');
  if (a.rr_over_30 === 'yes') return outcome('red', 'rr_over_30');
  // Perfusion: radial pulse absent or capillary refill over 2 seconds.
  if (a.poor_perfusion === undefined) return ask('poor_perfusion');
  if (a.poor_perfusion === 'yes') return outcome('red', 'poor_perfusion');
  if (a.obeys_commands === undefined) return ask('obeys_commands');
  return a.obeys_commands === 'yes'
    ? outcome('yellow', 'delayed')
    : outcome('red', 'does_not_obey');
}

function jumpStart(a) {
  // JumpSTART: children who cannot walk because of their developmental age go through the
  // algorithm; the medic answers "no" for them here.
  if (a.walks === undefined) return ask('walks');
  if (a.walks === 'yes') return outcome('green', 'walking_wounded');
  if (a.breathing === undefined) return ask('breathing');
  if (a.breathing === 'no') {
    if (a.breathing_after_airway === undefined) return ask('breathing_after_airway');
    if (a.breathing_after_airway === 'yes') return outcome('red', 'breathes_after_airway');
    // Children's arrests are mostly respiratory: with a pulse, five rescue breaths first.
    if (a.pulse_while_apneic === undefined) return ask('pulse_while_apneic');
    if (a.pulse_while_apneic === 'no') return outcome('black', 'apneic_pulseless');
    if (a.breathing_after_rescue_breaths === undefined) return ask('breathing_after_rescue_breaths');
    return a.breathing_after_rescue_breaths === 'yes'
      ? outcome('red', 'breathes_after_rescue_breaths')
      : outcome('black', 'apneic_after_rescue_breaths');
  }
  if (a.child_rr === undefined) return ask('child_rr', ['under_15', '15_to_45', 'over_45']);
  if (a.child_rr !== '15_to_45') return outcome('red', 'child_rr_abnormal');
  if (a.peripheral_pulse === undefined) return ask('peripheral_pulse');
  if (a.peripheral_pulse === 'no') return outcome('red', 'no_peripheral_pulse');
  // AVPU: unresponsive or inappropriate response to pain (posturing) is immediate.
  if (a.avpu === undefined) return ask('avpu', ['A', 'V', 'P_appropriate', 'P_inappropriate', 'U']);
  return a.avpu === 'P_inappropriate' || a.avpu === 'U'
    ? outcome('red', 'avpu_p_or_u')
    : outcome('yellow', 'delayed');
}

// SALT step 2, the individual assessment. Step 1 (the global sort: walk / wave / still) only
// orders who is assessed first and never sets a category, so the wizard does not ask it;
// lifesaving interventions are done before these questions, as the tablet's hint says.
const SALT_CHECKS = ['obeys_or_purposeful', 'peripheral_pulse', 'no_respiratory_distress',
  'hemorrhage_controlled'];

function salt(a) {
  if (a.breathing_after_airway === undefined) return ask('breathing_after_airway');
  if (a.breathing_after_airway === 'no') return outcome('black', 'salt_dead');
  for (const check of SALT_CHECKS) {
    if (a[check] === undefined) return ask(check);
    if (a[check] === 'no') {
      // Any one "no": immediate if likely to survive with the resources at hand, else expectant.
      if (a.likely_to_survive === undefined) return ask('likely_to_survive');
      return a.likely_to_survive === 'yes'
        ? outcome('red', 'salt_immediate')
        : outcome('black', 'salt_expectant');
    }
  }
  if (a.minor_injuries_only === undefined) return ask('minor_injuries_only');
  return a.minor_injuries_only === 'yes'
    ? outcome('green', 'salt_minimal')
    : outcome('yellow', 'salt_delayed');
}

const RULES = { START: start, JumpSTART: jumpStart, SALT: salt };

/** The triage methods the wizard offers, as PROTOCOL.md spells them. */
export const METHODS = Object.freeze(Object.keys(RULES));

/** The age group a method is made for (SALT is for all ages: the medic says). */
export const METHOD_AGE_GROUP = Object.freeze({ START: 'adult', JumpSTART: 'child', SALT: null });

/**
 * The next step of a triage.
 * @param {'START'|'JumpSTART'|'SALT'} method
 * @param {Record<string, string>} answers question -> chosen option, so far
 * @returns {{done: false, question: string, options: string[]} |
 *           {done: true, category: 'red'|'yellow'|'green'|'black', reason: string}}
 */
export function triageStep(method, answers) {
  const rule = RULES[method];
  if (!rule) throw new Error(`unknown triage method: ${method}`);
  return rule(answers);
}

/**
 * Walk a whole path of [question, answer] pairs; throws if the path asks something the
 * algorithm would not ask at that point, or stops early.
 */
export function triagePath(method, path) {
  const answers = {};
  for (const [question, answer] of path) {
    const step = triageStep(method, answers);
    if (step.done) throw new Error(`${method}: decided before "${question}"`);
    if (step.question !== question) throw new Error(`${method}: expected "${step.question}", got "${question}"`);
    if (!step.options.includes(answer)) throw new Error(`${method}: "${answer}" is not an answer to "${question}"`);
    answers[question] = answer;
  }
  const result = triageStep(method, answers);
  if (!result.done) throw new Error(`${method}: path ends before a decision, at "${result.question}"`);
  return result;
}
