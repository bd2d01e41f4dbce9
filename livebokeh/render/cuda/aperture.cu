// livebokeh: aperture-shaped blur of one lens slice (loaded by cuda_render.py).
//
// dst = correlate(src, taps) on premultiplied RGB + coverage (float4 per pixel), zeros
// outside the image: the same as cv2.filter2D(src, -1, taps, borderType=BORDER_CONSTANT)
// with the anchor in the middle. Slices are blurred at a pyramid level where the aperture
// is at most about 11x11 taps, so a direct gather per output pixel is cheap; taps that are
// zero (outside the aperture polygon) are skipped. Self-contained: no CuPy headers.

extern "C" __global__ void correlate_rgba(const float4* src, float4* dst, int height, int width,
                                          const float* taps, int size) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) {
        return;
    }
    const int half = size / 2;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int i = 0; i < size; ++i) {
        const int sy = y + i - half;
        if (sy < 0 || sy >= height) {
            continue;
        }
        const float4* row = src + (long long)sy * width;
        for (int j = 0; j < size; ++j) {
            const int sx = x + j - half;
            const float k = taps[i * size + j];
            if (sx < 0 || sx >= width || k == 0.0f) {
                continue;
            }
            const float4 v = row[sx];
            acc.x += k * v.x;
            acc.y += k * v.y;
            acc.z += k * v.z;
            acc.w += k * v.w;
        }
    }
    dst[(long long)y * width + x] = acc;
}
