// The framework's own declarations, as data. Changing a default here changes results without renaming
// cells (identities hold explicit values only), so a changed default needs a note in docs/spec.md.
#include "merx/spec/settings.h"

namespace merx {
namespace {

std::vector<ParamDecl> flow_recipe_params() {
  return {
      ParamDecl::integer("size", 28).range(8, 512).doc_line("side S of the output tensor [C, S, S], pixels"),
      ParamDecl::integer("flow_size", 128)
          .range(16, 1024)
          .doc_line("side of the aligned face crop the flow is computed on, pixels (u, v are rescaled by "
                    "S / flow_size)"),
      ParamDecl::string("flow", "tvl1").one_of({"tvl1", "farneback"}).doc_line("optical-flow algorithm"),
      ParamDecl::string("normalisation", "none")
          .one_of({"none", "maxabs", "zscore"})
          .doc_line("per sample and channel: none (as computed), maxabs (divide by the largest |value|), "
                    "zscore (subtract the mean, divide by the standard deviation)"),
      ParamDecl::string("detector", "dlib_hog")
          .one_of({"dlib_hog", "haar"})
          .doc_line("face detector on the onset frame (dlib HOG, or OpenCV's Haar cascade); skipped for "
                    "corpora delivered as face crops"),
  };
}

std::vector<ParamDecl> gray_recipe_params() {
  return {
      ParamDecl::integer("size", 28).range(8, 512).doc_line("side S of the output tensor [C, S, S], pixels"),
      ParamDecl::string("normalisation", "none")
          .one_of({"none", "maxabs", "zscore"})
          .doc_line("per sample and channel, applied to intensities in [0, 1]: none, maxabs, zscore"),
      ParamDecl::integer("flow_size", 128)
          .range(16, 1024)
          .doc_line(
              "side of the aligned face crop (the frames are cropped to it, then resized to S), pixels"),
      ParamDecl::string("detector", "dlib_hog")
          .one_of({"dlib_hog", "haar"})
          .doc_line("face detector on the onset frame (dlib HOG, or OpenCV's Haar cascade); skipped for "
                    "corpora delivered as face crops"),
  };
}

std::vector<ParamDecl> flow_image_params() {
  return {
      ParamDecl::integer("size", 28)
          .range(8, 512)
          .doc_line(
              "side S of the output tensor [3, S, S], pixels (the image is resized with area averaging)"),
      ParamDecl::string("scale", "unit")
          .one_of({"unit", "signed"})
          .doc_line("bytes b to floats: unit b / 255 (0..1), signed b / 127.5 - 1 (-1..1)"),
      ParamDecl::string("channel_order", "rgb")
          .one_of({"rgb", "bgr"})
          .doc_line("which PNG channels hold u, v, strain: rgb = red, green, blue (an RGB array saved by "
                    "PIL/imageio); bgr = blue, green, red (a [u, v, strain] array saved by cv2.imwrite)"),
      ParamDecl::string("normalisation", "none")
          .one_of({"none", "maxabs", "zscore"})
          .doc_line("per sample and channel, after the scale: none, maxabs, zscore"),
  };
}

}  // namespace

const std::vector<RecipeInfo>& recipe_catalog() {
  static const std::vector<RecipeInfo> recipes = {
      {"flow_strain", 3, "STSTNet input: TV-L1 flow onset->apex on the aligned face, [u, v, optical strain]",
       flow_recipe_params(), "frames"},
      {"flow_uv", 2, "OFF-ApexNet input: flow onset->apex, [u, v]", flow_recipe_params(), "frames"},
      {"apex_gray", 1, "the aligned apex frame in gray levels, [gray]", gray_recipe_params(), "frames"},
      {"onset_apex", 2, "the aligned onset and apex frames in gray levels, [onset, apex]",
       gray_recipe_params(), "frames"},
      {"flow_images", 3,
       "precomputed flow images (adapter flow_images, e.g. STSTNet's PNGs) as they are, [u, v, strain]",
       flow_image_params(), "flow_images"},
  };
  return recipes;
}

std::vector<std::string> recipe_channel_names(const std::string& name) {
  if (name == "flow_strain") return {"u", "v", "strain"};
  if (name == "flow_uv") return {"u", "v"};
  if (name == "apex_gray") return {"gray"};
  if (name == "onset_apex") return {"onset", "apex"};
  if (name == "flow_images") return {"u", "v", "strain"};
  return {};
}

const RecipeInfo* find_recipe(const std::string& name) {
  for (const auto& r : recipe_catalog())
    if (r.name == name) return &r;
  return nullptr;
}

const std::vector<ParamDecl>& training_params() {
  static const std::vector<ParamDecl> decls = {
      ParamDecl::string("optimizer", "adam").one_of({"adam", "adamw", "sgd"}).doc_line("optimizer"),
      ParamDecl::real("lr", 1e-3)
          .range(0, 10)
          .search_as(Search::log10_uniform(-4, -2.5))  // drawn only when sweep.random.training lists it
          .doc_line("learning rate"),
      ParamDecl::real("momentum", 0.9).range(0, 1).doc_line("sgd momentum (ignored by adam/adamw)"),
      ParamDecl::real("weight_decay", 0)
          .range(0, 1)
          .search_as(Search::log10_uniform(-6, -2, 0.5))  // DomainBed's 10^U(-6, -2), half the draws 0
          .doc_line("L2 weight decay (decoupled for adamw)"),
      ParamDecl::string("schedule", "none")
          .one_of({"none", "step", "cosine"})
          .doc_line("learning-rate schedule"),
      ParamDecl::integer("step_size", 10)
          .range(1, 100000000)
          .doc_line("schedule step: epochs between decays (optimiser steps when `steps` is set)"),
      ParamDecl::real("gamma", 0.1).range(0, 1).doc_line("schedule step: lr factor at each decay"),
      ParamDecl::integer("epochs", 30)
          .range(1, 100000)
          .doc_line("passes over the training set (used when `steps` is 0; set one of epochs, steps)"),
      ParamDecl::integer("steps", 0)
          .range(0, 100000000)
          .doc_line("optimiser steps per training run, whatever an augmenter adds (equal budgets); 0 = "
                    "train by `epochs`"),
      ParamDecl::integer("eval_every", 0)
          .range(0, 100000000)
          .doc_line("with `steps`: optimiser steps between evaluation points (curves, selection); 0 = the "
                    "steps of one pass over the cell's real training clips"),
      ParamDecl::integer("batch", 32)
          .range(1, 65536)
          .doc_line("clips per source domain per step (domain_balanced), clips per step otherwise"),
      ParamDecl::string("sampler", "domain_balanced")
          .one_of({"domain_balanced", "class_balanced", "shuffle"})
          .doc_line("how batches are drawn"),
      ParamDecl::string("selection", "last")
          .one_of({"last", "source_val", "loo_source", "oracle"})
          .doc_line("which checkpoint is reported (methods.md §3)"),
      ParamDecl::real("val_fraction", 0.2)
          .range(0.01, 0.9)
          .doc_line("source_val: share of each source's clips held out for validation (whole subjects)"),
      ParamDecl::real("grad_clip", 0).range(0, 1e6).doc_line("max global gradient L2 norm; 0 = no clipping"),
      ParamDecl::integer("threads_per_cell", 1)
          .range(1, 1024)
          .doc_line("torch threads per running cell (not part of the identity)"),
      ParamDecl::string("device", "auto")
          .one_of({"auto", "cpu", "cuda"})
          .doc_line("where cells run; auto = cuda when available (not part of the identity)"),
      ParamDecl::integer("slots_per_gpu", 1)
          .range(1, 64)
          .doc_line("cells run at once on each GPU by `merx run` (not part of the identity)"),
  };
  return decls;
}

const std::vector<std::string>& training_params_outside_identity() {
  static const std::vector<std::string> names = {"threads_per_cell", "device", "slots_per_gpu"};
  return names;
}

TrainingSettings TrainingSettings::from_json(const json& r) {
  TrainingSettings t;
  t.optimizer = r.at("optimizer").get<std::string>();
  t.lr = r.at("lr").get<double>();
  t.momentum = r.at("momentum").get<double>();
  t.weight_decay = r.at("weight_decay").get<double>();
  t.schedule = r.at("schedule").get<std::string>();
  t.step_size = r.at("step_size").get<int64_t>();
  t.gamma = r.at("gamma").get<double>();
  t.epochs = r.at("epochs").get<int64_t>();
  t.steps = r.at("steps").get<int64_t>();
  t.eval_every = r.at("eval_every").get<int64_t>();
  t.batch = r.at("batch").get<int64_t>();
  t.sampler = r.at("sampler").get<std::string>();
  t.selection = r.at("selection").get<std::string>();
  t.val_fraction = r.at("val_fraction").get<double>();
  t.grad_clip = r.at("grad_clip").get<double>();
  t.threads_per_cell = r.at("threads_per_cell").get<int64_t>();
  t.device = r.at("device").get<std::string>();
  t.slots_per_gpu = r.at("slots_per_gpu").get<int64_t>();
  return t;
}

const std::vector<ProtocolInfo>& protocol_catalog() {
  static const std::vector<ProtocolInfo> protocols = {
      {"lodo",
       "leave one dataset out: one fold per target dataset, trained on all the others",
       2,
       {"targets"},
       {}},
      {"hde", "holdout-database evaluation: one fold per listed (sources -> target) pair", 2, {"pairs"}, {}},
      {"loso", "leave one subject out over the composite of all datasets (global subject ids)", 1, {}, {}},
      {"kfold_subject",
       "k subject-disjoint folds over the composite of all datasets",
       1,
       {"k"},
       {ParamDecl::integer("k", 5).range(2, 1000).doc_line("number of folds")}},
  };
  return protocols;
}

const ProtocolInfo* find_protocol(const std::string& name) {
  for (const auto& p : protocol_catalog())
    if (p.name == name) return &p;
  return nullptr;
}

const std::vector<LabelMappingInfo>& label_mapping_catalog() {
  static const std::vector<LabelMappingInfo> mappings = {
      {"native",
       "each corpus's own emotion labels, unchanged (sensible when the datasets share a label set)",
       {}},
      {"megc3",
       "MEGC2019 composite classes: negative, positive, surprise (other labels are unmapped)",
       {"negative", "positive", "surprise"}},
      {"custom", "`map`: native label -> class name", {}},
  };
  return mappings;
}

const LabelMappingInfo* find_label_mapping(const std::string& name) {
  for (const auto& m : label_mapping_catalog())
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace merx
