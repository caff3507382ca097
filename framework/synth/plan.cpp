// The corpus plan: every subject (which base face, which variation) and every clip (class, AU pattern and
// intensities, timing, blink, nuisance motion, frame numbers, names), drawn in a fixed order from one
// generator seeded by (preset, seed), so that the plan does not depend on threads.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "synth/internal.h"

namespace merx::synth::detail {

double ClipPlan::envelope(int k) const {
  const double pi = 3.141592653589793;
  const int start = lead, apex = lead + rise, end = lead + rise + decay;
  if (k <= start || k >= end) return 0;
  if (k <= apex) return 0.5 * (1 - std::cos(pi * (k - start) / rise));
  return 0.5 * (1 + std::cos(pi * (k - apex) / decay));
}

double ClipPlan::blink_closure(int k) const {
  if (blink_start < 0 || k < blink_start || k >= blink_start + blink_len) return 0;
  return std::sin(3.141592653589793 * (k - blink_start + 1) / (blink_len + 1));
}

std::string au_text(const std::string& adapter, const std::vector<AuActivation>& aus) {
  std::string s;
  for (const auto& a : aus) {
    if (adapter == "casme2") {
      if (!s.empty()) s += "+";
      if (a.side) s += a.side;
      s += std::to_string(a.au);
    } else if (adapter == "samm") {
      if (!s.empty()) s += " + ";
      if (a.side) s += a.side;
      s += std::to_string(a.au);
      s += intensity_letter(a.intensity);
    }
  }
  return s;
}

namespace {

std::string pad(long long n, int width) {
  std::string s = std::to_string(n);
  return s.size() < size_t(width) ? std::string(size_t(width) - s.size(), '0') + s : s;
}

std::string subject_id(const std::string& adapter, int number) {
  if (adapter == "casme2") return "sub" + pad(number, 2);
  if (adapter == "samm") return pad(number, 3);
  return "s" + std::to_string(number);
}

}  // namespace

Plan make_plan(const Preset& base, uint64_t seed, const Sources& sources,
               const std::function<void(const std::string&)>& warn) {
  Plan plan;
  plan.preset = base;
  plan.seed = seed;
  Preset& preset = plan.preset;  // the effective preset: the shift knobs applied, twins appended below
  const ShiftSpec& sh = preset.shift;
  const std::string seed_name = preset.seed_name.empty() ? preset.name : preset.seed_name;
  if (sh.enabled)
    for (auto& d : preset.domains) {
      d.noise *= sh.noise_scale;
      for (auto& cls : d.classes)
        for (auto& m : cls.mixtures)
          m.lo = std::min(5.0, m.lo * sh.intensity_scale), m.hi = std::min(5.0, m.hi * sh.intensity_scale);
    }
  Rng rng(derive_seed("merx synth plan|" + seed_name + "|" + std::to_string(seed)));
  // The shift's own draws (cue, label noise, low-intensity tail) come from a second generator, a fixed
  // number per clip whatever their outcome: shift and shift_invariant differ only in the cue.
  Rng shift_rng(derive_seed("merx synth shift|" + seed_name + "|" + std::to_string(seed)));

  // Identities in a fixed order (hopper, collins, video), each with its base images.
  std::vector<std::string> identities;
  std::map<std::string, std::vector<size_t>> faces_of;
  for (size_t i = 0; i < sources.faces.size(); ++i) {
    const auto& id = sources.faces[i].identity;
    if (!faces_of.count(id)) identities.push_back(id);
    faces_of[id].push_back(i);
  }
  // `shift`: each domain its own people (identities round-robin over the domains); with fewer people
  // than domains, its own base images; with fewer images, shared (and said).
  const size_t D = preset.domains.size();
  std::vector<std::vector<size_t>> pool_of(D);
  if (sh.enabled && sh.disjoint_identities) {
    if (identities.size() >= D) {
      for (size_t i = 0; i < identities.size(); ++i)
        for (size_t f : faces_of[identities[i]]) pool_of[i % D].push_back(f);
    } else if (sources.faces.size() >= D) {
      for (size_t f = 0; f < sources.faces.size(); ++f) pool_of[f % D].push_back(f);
      if (warn)
        warn("synth: only " + std::to_string(identities.size()) +
             " people among the sources: domains get their own base images but share identities");
    } else {
      for (auto& p : pool_of)
        for (size_t f = 0; f < sources.faces.size(); ++f) p.push_back(f);
      if (warn) warn("synth: fewer base images than domains: the domains share faces");
    }
  }

  size_t global = 0;
  for (size_t d = 0; d < preset.domains.size(); ++d) {
    const DomainSpec& dom = preset.domains[d];
    const size_t first_subject = plan.subjects.size();
    // ---- subjects: a base face (identities in turn) and a documented variation of it ----
    for (int k = 0; k < dom.subjects; ++k, ++global) {
      SubjectPlan s;
      s.domain = d;
      s.number = dom.adapter == "samm" ? 6 + k : 1 + k;
      s.id = subject_id(dom.adapter, s.number);
      if (!pool_of[d].empty()) {
        s.face = pool_of[d][size_t(k) % pool_of[d].size()];
      } else {
        const auto& pool = faces_of[identities[global % identities.size()]];
        s.face = pool[(global / identities.size()) % pool.size()];
      }
      s.mirror = rng.chance(0.5);
      s.scale = rng.uniform(0.92, 1.08);
      s.roll = rng.uniform(-4, 4);
      s.dx = rng.uniform(-0.08, 0.08);
      s.dy = rng.uniform(-0.06, 0.06);
      const double bounds[7] = {0.06, 0.05, 0.03, 0.12, 0.10, 0.04, 0.04};  // see face_model.cpp
      for (int m = 0; m < 7; ++m)
        s.morph[size_t(m)] = rng.uniform(-bounds[m], bounds[m]) + dom.morph_centre[size_t(m)] * bounds[m];
      const double tone = rng.uniform(-1, 1), level = rng.uniform(0.92, 1.06);
      s.tone = {level * (1 - 0.08 * tone), level * (1 - 0.02 * tone), level * (1 + 0.06 * tone)};
      s.gamma = rng.uniform(0.85, 1.2);
      s.seed = rng.bits();
      plan.subjects.push_back(s);
    }

    // ---- clips: class slots shuffled, every subject gets one, the rest by per-subject weights ----
    std::vector<size_t> slots;  // class index per clip
    for (size_t c = 0; c < dom.classes.size(); ++c)
      for (int i = 0; i < dom.classes[c].count; ++i) slots.push_back(c);
    for (size_t i = slots.size(); i > 1; --i)
      std::swap(slots[i - 1], slots[size_t(rng.integer(0, int(i) - 1))]);
    std::vector<double> weight(size_t(dom.subjects));
    for (auto& w : weight) w = std::exp(rng.normal() * 0.5);
    std::vector<ClipPlan> clips;
    std::map<std::string, int> counters;  // per subject: names already used
    // `shift`: the low-intensity tail, an exact share of the domain's clips.
    std::vector<char> low(slots.size(), 0);
    if (sh.enabled) {
      std::vector<size_t> order(slots.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      for (size_t i = order.size(); i > 1; --i)
        std::swap(order[i - 1], order[size_t(shift_rng.integer(0, int(i) - 1))]);
      const size_t n_low = size_t(std::lround(sh.low_share * double(slots.size())));
      for (size_t i = 0; i < n_low && i < order.size(); ++i) low[order[i]] = 1;
    }
    std::vector<std::string> domain_classes;  // those with clips: what label noise may write instead
    for (const auto& cls : dom.classes)
      if (cls.count > 0) domain_classes.push_back(cls.name);
    for (size_t i = 0; i < slots.size(); ++i) {
      ClipPlan c;
      c.domain = d;
      c.subject = first_subject + (i < weight.size() ? i : rng.pick(weight));
      const SubjectPlan& subj = plan.subjects[c.subject];
      const ClassSpec& cls = dom.classes[slots[i]];
      std::vector<double> mix;
      for (const auto& m : cls.mixtures) mix.push_back(m.weight);
      const Mixture& m = cls.mixtures[rng.pick(mix)];
      c.cls = cls.name;
      c.emotion = m.emotion;
      c.pattern = m.pattern;
      c.objective_class = m.objective_class;
      double level = rng.uniform(m.lo, m.hi);
      if (sh.enabled) {
        const double u_cue = shift_rng.uniform(), u_noise = shift_rng.uniform();
        const double u_class = shift_rng.uniform(), u_emotion = shift_rng.uniform();
        const double low_level = shift_rng.uniform(sh.low_lo, sh.low_hi);
        c.true_cls = true_class(m.pattern);
        const auto recoded = dom.coding.find(m.pattern);
        const std::string coded = recoded == dom.coding.end() ? cls.name : recoded->second;
        c.cls = coded;
        const double p_cue = dom.cue_class.empty()         ? sh.independent_rate
                             : c.true_cls == dom.cue_class ? sh.tie_strength
                                                           : sh.untied_rate;
        c.cue = u_cue < p_cue;
        c.nod = c.cue ? sh.nod_amplitude : 0;
        if (u_noise < dom.label_noise) {
          std::vector<std::string> others;
          for (const auto& name : domain_classes)
            if (name != coded) others.push_back(name);
          if (!others.empty()) {
            c.label_noise = true;
            c.cls = others[std::min(others.size() - 1, size_t(u_class * double(others.size())))];
            // The native label a coder of this domain writes for that class.
            std::vector<const Mixture*> natives;
            std::vector<double> w;
            for (const auto& k : dom.classes)
              if (k.name == c.cls)
                for (const auto& x : k.mixtures)
                  if (!dom.coding.count(x.pattern)) natives.push_back(&x), w.push_back(x.weight);
            double r = u_emotion * std::accumulate(w.begin(), w.end(), 0.0);
            size_t j = 0;
            while (j + 1 < w.size() && r >= w[j]) r -= w[j++];
            c.emotion = natives.at(j)->emotion;
          }
        }
        if (low[i]) c.low_intensity = true, level = low_level;
      }
      const char one_side = rng.chance(0.5) ? 'R' : 'L';
      for (const auto& pa : pattern(m.pattern)) {
        AuActivation a;
        a.au = pa.au;
        a.side = pa.side == '?' ? one_side : pa.side;
        a.intensity = std::clamp(level * pa.factor * rng.uniform(0.85, 1.15), 0.5, 5.0);
        a.intensity = std::round(a.intensity * 100) / 100;
        c.aus.push_back(a);
      }
      c.lead = rng.integer(dom.lead.lo, dom.lead.hi);
      c.rise = rng.integer(dom.rise.lo, dom.rise.hi);
      c.decay = rng.integer(dom.decay.lo, dom.decay.hi);
      c.tail = rng.integer(dom.tail.lo, dom.tail.hi);
      if (rng.chance(dom.blink_rate)) {
        const int gap = rng.integer(0, 1);
        c.blink_len = rng.integer(dom.blink.lo, dom.blink.hi);
        c.blink_start = c.lead + c.rise + c.decay + 1 + gap;
        c.tail = std::max(c.tail, gap + c.blink_len + 1);
        c.blink_intensity = std::round(rng.uniform(2.5, 5) * 100) / 100;
      }
      c.head_tx = std::clamp(rng.normal() * 0.006, -0.015, 0.015);
      c.head_ty = std::clamp(rng.normal() * 0.006, -0.015, 0.015);
      c.head_rot = std::clamp(rng.normal() * 0.1, -0.3, 0.3);
      c.wobble = rng.uniform(0, 0.004);
      c.wobble_phase = rng.uniform(0, 6.283185307179586);
      c.drift = rng.uniform(-0.01, 0.01);
      // Frame numbers and names as the corpus writes them.
      if (dom.adapter == "casme2") {
        c.onset = rng.integer(1, 300);
        // Episodes 20-39: CASME II has EP01-EP19, so no name meets a real clip (or its errata).
        const int episode = rng.integer(20, 39);
        const int n = ++counters[subj.id + "/EP" + pad(episode, 2)];  // unique per subject and episode
        const std::string name = "EP" + pad(episode, 2) + "_" + pad(n, 2) + (rng.chance(0.3) ? "f" : "");
        c.clip = name;
      } else if (dom.adapter == "samm") {
        c.onset = rng.integer(100, 6000);
        c.inducement = rng.integer(1, 7);
        const int n = ++counters[subj.id + "_" + std::to_string(c.inducement)];
        c.clip = subj.id + "_" + std::to_string(c.inducement) + "_" + std::to_string(n);
      } else {
        c.onset = rng.integer(1, 3000);
        const std::string tag = c.cls == "negative" ? "ne" : c.cls == "positive" ? "po" : "sur";
        const int n = ++counters[subj.id + "_" + tag];
        c.clip = subj.id + "_" + tag + "_" + pad(n, 2);
      }
      c.seed = derive_seed("merx synth clip|" + seed_name + "|" + std::to_string(seed) + "|" + dom.name +
                           "|" + subj.id + "|" + c.clip);
      clips.push_back(std::move(c));
    }
    std::stable_sort(clips.begin(), clips.end(), [](const ClipPlan& a, const ClipPlan& b) {
      return a.subject != b.subject ? a.subject < b.subject : a.clip < b.clip;
    });
    for (auto& c : clips) plan.clips.push_back(std::move(c));
  }

  // ---- counterfactual twins: every domain again as `<domain>_cf`, the same draws with the cue toggled
  // (same subjects, clip names and noise seeds; the renderer reuses the original subject's face) ----
  if (sh.enabled && sh.counterfactual_twins) {
    const size_t n_subjects = plan.subjects.size(), n_clips = plan.clips.size();
    for (size_t d = 0; d < D; ++d) {
      DomainSpec twin = preset.domains[d];
      twin.counterfactual_of = twin.name;
      twin.name += "_cf";
      preset.domains.push_back(twin);
    }
    for (size_t i = 0; i < n_subjects; ++i) {
      SubjectPlan s = plan.subjects[i];
      s.domain += D;
      s.original = i;
      plan.subjects.push_back(s);
    }
    for (size_t i = 0; i < n_clips; ++i) {
      ClipPlan c = plan.clips[i];
      c.domain += D;
      c.subject += n_subjects;
      c.cue = !c.cue;
      c.nod = c.cue ? sh.nod_amplitude : 0;
      plan.clips.push_back(c);
    }
  }
  return plan;
}

}  // namespace merx::synth::detail
