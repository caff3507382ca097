// mynet: the smallest useful merx backbone, as a template for your own.
//
// A backbone turns the recipe's input tensor into one feature vector per sample; merx puts the classifier
// head on top and trains everything. This one is a single 3x3 convolution, a ReLU and a global average:
//
//   x [B, 3, 28, 28] --conv 3x3, `width` channels--> [B, width, 28, 28] --ReLU, mean over H, W--> [B, width]
#include <torch/nn/modules/conv.h>

#include <merx/backbone.h>  // the interface: input_shape(), feature_dim(), forward()
#include <merx/plugin.h>    // MERX_PLUGIN: exports the entry point merx looks for

namespace {  // nothing but the entry point needs to be visible outside this file

class MyNet final : public merx::Backbone {
 public:
  // merx hands over every declared parameter, already checked against its range and with defaults filled in.
  // Throwing here (e.g. for a combination of values you cannot support) is fine: merx reports the message as
  // "plugin <file>: factory failed: <message>".
  explicit MyNet(const merx::Params& p) : width_(p.integer("width")) {
    // register_module makes the layer's weights trainable and saved with the model.
    conv_ = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, width_, 3).padding(1)));
  }

  // What the network was built for: merx refuses to train it on a recipe with another input shape. This one
  // expects the 3-channel 28x28 input of the `flow_strain` recipe at S = 28.
  merx::InputShape input_shape() const override { return {3, 28, 28}; }

  // F: the width of what forward() returns.
  int64_t feature_dim() const override { return width_; }

  // x [B, 3, 28, 28] -> features [B, width]. Each sample's output depends only on that sample.
  torch::Tensor forward(torch::Tensor x) override { return torch::relu(conv_->forward(x)).mean({2, 3}); }

 private:
  int64_t width_;
  torch::nn::Conv2d conv_{nullptr};
};

}  // namespace

// One MERX_PLUGIN per .so: interface, class, name (must match NAME in CMakeLists.txt's merx_add_plugin, as
// [a-z0-9_]+), version (bump it whenever results may change: it is recorded with every result), a one-line
// description, then the parameter declarations. Each parameter is declared once here, with its default, its
// allowed range and how a random search draws it; merx checks that these agree with each other at load time.
MERX_PLUGIN(merx::Backbone, MyNet, "mynet", "1.0.0", "Example: one 3x3 conv, ReLU, global average pooling",
            merx::ParamDecl::integer("width", 16)
                .range(1, 512)
                .search_as(merx::Search::choice({8, 16, 32}))
                .doc_line("output channels of the conv = feature width F"))
