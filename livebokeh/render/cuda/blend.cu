// livebokeh: the one full-resolution pass of every style, fused (loaded by cuda_render.py).
//
// out = w * sharp + (1 - w) * upsample(low), then grain, for one RGB uint8 pixel per thread:
//   w      = min(sample(weight) * sample(gain), 1)   (composite: matte, gain 1x1 of 1.0;
//                                                     lens: focus weight, low-res sharp gain)
//   grain  = grain_scale * noise[y + noise_y, x + noise_x]
//            * clamp(amount_offset + amount_scale * |sample(amount)|, 0, 1)
// "sample" is a bilinear read of a plane at its own resolution with OpenCV's INTER_LINEAR
// rule (pixel centres aligned, edges clamped), so mattes and CoC maps can stay at low
// resolution. Grain is rounded and applied with saturation in two parts like grain.add_grain.
// Self-contained: no CuPy headers.

struct LinearTap {
    int first;
    int second;
    float t;
};

__device__ __forceinline__ LinearTap blend_tap(int d, int dst_size, int src_size) {
    const float scale = (float)src_size / (float)dst_size;
    const float f = ((float)d + 0.5f) * scale - 0.5f;
    int s = (int)floorf(f);
    float t = f - (float)s;
    if (s < 0) {
        s = 0;
        t = 0.0f;
    }
    if (s >= src_size - 1) {
        s = src_size - 1;
        t = 0.0f;
    }
    LinearTap tap = {s, min(s + 1, src_size - 1), t};
    return tap;
}

__device__ __forceinline__ float blend_sample(const float* plane, int plane_h, int plane_w,
                                              int y, int x, int height, int width) {
    const LinearTap ty = blend_tap(y, height, plane_h);
    const LinearTap tx = blend_tap(x, width, plane_w);
    const float* row0 = plane + (long long)ty.first * plane_w;
    const float* row1 = plane + (long long)ty.second * plane_w;
    const float top = row0[tx.first] * (1.0f - tx.t) + row0[tx.second] * tx.t;
    const float bottom = row1[tx.first] * (1.0f - tx.t) + row1[tx.second] * tx.t;
    return top * (1.0f - ty.t) + bottom * ty.t;
}

extern "C" __global__ void blend_upsampled(
    const unsigned char* sharp, unsigned char* out, int height, int width,
    const unsigned char* low, int low_h, int low_w,
    const float* weight, int weight_h, int weight_w,
    const float* gain, int gain_h, int gain_w,
    const float* amount, int amount_h, int amount_w, float amount_offset, float amount_scale,
    const float* noise, int noise_w, int noise_y, int noise_x, float grain_scale) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    const float w = fminf(blend_sample(weight, weight_h, weight_w, y, x, height, width)
                          * blend_sample(gain, gain_h, gain_w, y, x, height, width), 1.0f);
    float add = 0.0f;
    float sub = 0.0f;
    if (grain_scale != 0.0f) {
        const float a = amount_offset
                        + amount_scale * fabsf(blend_sample(amount, amount_h, amount_w, y, x,
                                                            height, width));
        const float g = grain_scale * noise[(long long)(y + noise_y) * noise_w + x + noise_x]
                        * fminf(fmaxf(a, 0.0f), 1.0f);
        add = fminf(fmaxf(rintf(g), 0.0f), 255.0f);
        sub = fminf(fmaxf(rintf(-g), 0.0f), 255.0f);
    }
    const LinearTap ty = blend_tap(y, height, low_h);
    const LinearTap tx = blend_tap(x, width, low_w);
    const unsigned char* row0 = low + (long long)ty.first * low_w * 3;
    const unsigned char* row1 = low + (long long)ty.second * low_w * 3;
    const long long pixel = ((long long)y * width + x) * 3;
    for (int c = 0; c < 3; ++c) {
        const float top = row0[tx.first * 3 + c] * (1.0f - tx.t) + row0[tx.second * 3 + c] * tx.t;
        const float bottom = row1[tx.first * 3 + c] * (1.0f - tx.t)
                             + row1[tx.second * 3 + c] * tx.t;
        const float background = top * (1.0f - ty.t) + bottom * ty.t;
        float v = rintf(w * (float)sharp[pixel + c] + (1.0f - w) * background);
        v = fminf(fmaxf(v, 0.0f), 255.0f);
        v = fminf(v + add, 255.0f);
        v = fmaxf(v - sub, 0.0f);
        out[pixel + c] = (unsigned char)v;
    }
}
