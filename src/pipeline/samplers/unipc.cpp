#include "pipeline/samplers/unipc.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "util/check.h"

namespace canter::pipeline {
namespace {

constexpr int kSolverOrder = 2;

// Solves [[1, 1], [r, 1]] [x0, x1]^T = [b0, b1]^T in fp32 with partial pivoting (LAPACK
// getrf/getrs order of operations), as upstream's torch.linalg.solve does.
std::pair<float, float> solve_2x2(float r, float b0, float b1) {
    float a00 = 1.0f, a01 = 1.0f, a10 = r, a11 = 1.0f;
    if (std::fabs(a10) > std::fabs(a00)) {
        std::swap(a00, a10);
        std::swap(a01, a11);
        std::swap(b0, b1);
    }
    const float l = a10 * (1.0f / a00);
    const float u11 = a11 - l * a01;
    const float y1 = b1 - l * b0;
    const float x1 = y1 / u11;
    const float x0 = (b0 - x1 * a01) / a00;
    return {x0, x1};
}

}  // namespace

UniPCMultistep::UniPCMultistep(FlowSchedule schedule) : schedule_(std::move(schedule)) {
    const int n = schedule_.steps();
    CANTER_CHECK(n >= 1 && static_cast<int>(schedule_.sigmas.size()) == n + 1, InvalidArgument,
                 "UniPC schedule needs N >= 1 timesteps and N+1 sigmas, got "
                     << n << " and " << schedule_.sigmas.size());
    for (int k = 0; k < n; ++k) {
        const float s = schedule_.sigmas[k];
        CANTER_CHECK(s > 0.0f && s < 1.0f, InvalidArgument,
                     "UniPC schedule sigma[" << k << "] must be in (0, 1), got " << s);
    }
    CANTER_CHECK(schedule_.sigmas[n] == 0.0f, InvalidArgument,
                 "UniPC schedule must end at sigma 0, got " << schedule_.sigmas[n]);
}

float UniPCMultistep::lambda(int k) const {
    const float sigma = schedule_.sigmas[k];
    return std::log(1.0f - sigma) - std::log(sigma);
}

at::Tensor UniPCMultistep::step(const at::Tensor& velocity, const at::Tensor& sample) {
    const int n = schedule_.steps();
    CANTER_CHECK(
        step_index_ < n, InvalidArgument,
        "UniPC: step called " << step_index_ + 1 << " times for a " << n << "-step schedule");
    CANTER_CHECK(velocity.sizes() == sample.sizes(), InvalidArgument,
                 "UniPC: velocity " << velocity.sizes() << " and sample " << sample.sizes()
                                    << " differ in shape");
    const int k = step_index_;
    // 1. x0-prediction from the sample the model saw.
    const at::Tensor m_k = sample - velocity * static_cast<double>(schedule_.sigmas[k]);
    // 2. Corrector (UniC): replaces the predictor's output with a corrected sample; it
    //    depends on last_sample_ and the history, not on `sample` itself.
    at::Tensor x = k >= 1 ? correct(m_k) : sample;
    // 3. History push.
    m_older_ = m_newest_;
    m_newest_ = m_k;
    // 4. Order: 1 on the first step (warm-up) and the last (lower_order_final).
    this_order_ = std::min({kSolverOrder, n - k, lower_order_nums_ + 1});
    last_sample_ = x;
    // 6. Predictor (UniP).
    at::Tensor next = predict(x, this_order_);
    lower_order_nums_ = std::min(lower_order_nums_ + 1, kSolverOrder);
    ++step_index_;
    return next;
}

at::Tensor UniPCMultistep::correct(const at::Tensor& m_k) const {
    const int k = step_index_;
    const float sigma_t = schedule_.sigmas[k], sigma_s0 = schedule_.sigmas[k - 1];
    const float alpha_t = 1.0f - sigma_t;
    const float lambda_s0 = lambda(k - 1);
    const float h = lambda(k) - lambda_s0;
    const float hh = -h;  // predict_x0
    const float h_phi_1 = std::expm1(hh);
    const float b_h = std::expm1(hh);  // bh2
    const at::Tensor& m0 = m_newest_;
    at::Tensor x_t = last_sample_ * static_cast<double>(sigma_t / sigma_s0) -
                     m0 * static_cast<double>(alpha_t * h_phi_1);
    const at::Tensor d1_t = m_k - m0;
    at::Tensor res;
    if (this_order_ == 1) {
        res = d1_t * 0.5;  // rho_c = 0.5
    } else {
        // b_i = g_i * i! / B_h with g_1 = phi/hh - 1, g_2 = g_1/hh - 1/2; R = [[1, 1], [r, 1]].
        const float rk = (lambda(k - 2) - lambda_s0) / h;
        const at::Tensor d1 = (m_older_ - m0) / static_cast<double>(rk);
        float h_phi_k = h_phi_1 / hh - 1.0f;
        const float b1 = h_phi_k * 1.0f / b_h;
        h_phi_k = h_phi_k / hh - 0.5f;
        const float b2 = h_phi_k * 2.0f / b_h;
        const auto [rho_1, rho_c] = solve_2x2(rk, b1, b2);
        res = d1 * static_cast<double>(rho_1) + d1_t * static_cast<double>(rho_c);
    }
    return x_t - res * static_cast<double>(alpha_t * b_h);
}

at::Tensor UniPCMultistep::predict(const at::Tensor& x, int order) const {
    const int k = step_index_;
    // Last step: sigma_{k+1} = 0 makes lambda infinite and the update collapse to the
    // x0-prediction (sigma ratio 0, alpha 1, phi = -1); done explicitly, no inf arithmetic.
    if (schedule_.sigmas[k + 1] == 0.0f) return m_newest_.clone();
    const float sigma_t = schedule_.sigmas[k + 1], sigma_s0 = schedule_.sigmas[k];
    const float alpha_t = 1.0f - sigma_t;
    const float lambda_s0 = lambda(k);
    const float h = lambda(k + 1) - lambda_s0;
    const float hh = -h;
    const float h_phi_1 = std::expm1(hh);
    const float b_h = std::expm1(hh);
    const at::Tensor& m0 = m_newest_;
    at::Tensor x_t =
        x * static_cast<double>(sigma_t / sigma_s0) - m0 * static_cast<double>(alpha_t * h_phi_1);
    if (order == 2) {
        // The order-2 predictor uses the fixed rho_p = 0.5 instead of solving.
        const float rk = (lambda(k - 1) - lambda_s0) / h;
        const at::Tensor d1 = (m_older_ - m0) / static_cast<double>(rk);
        x_t = x_t - (d1 * 0.5) * static_cast<double>(alpha_t * b_h);
    }
    return x_t;
}

}  // namespace canter::pipeline
