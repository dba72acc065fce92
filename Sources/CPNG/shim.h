// libpng 1.6 (Debian: libpng-dev), behind one small setjmp-protected decode function.
//
// libpng reports errors by longjmp, which Swift cannot catch, so the whole read happens inside
// `qvl_png_decode` below; Swift only sees a return code and a message.
#ifndef QWENVL_CPNG_SHIM_H
#define QWENVL_CPNG_SHIM_H

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/// Header facts and palette of a PNG, plus libpng's last error message.
typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;    // 1, 2, 4, 8 or 16 (as stored)
    int color_type;   // PNG_COLOR_TYPE_* (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA)
    int channels;     // samples per pixel in the output rows
    int num_palette;  // PLTE entries (0..256)
    uint8_t palette[256 * 3];
    size_t row_bytes; // bytes per output row
    char message[200];
} qvl_png_info;

enum {
    QVL_PNG_OK = 0,
    QVL_PNG_ERROR = 1,      // libpng error; `message` says what
    QVL_PNG_TOO_LARGE = 2,  // width*height > max_pixels; nothing was allocated for pixels
    QVL_PNG_NO_MEMORY = 3,
};

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} qvl_png_reader;

static void qvl_png_read_fn(png_structp png, png_bytep out, size_t count) {
    qvl_png_reader *reader = (qvl_png_reader *)png_get_io_ptr(png);
    if (reader->size - reader->pos < count) {
        png_error(png, "unexpected end of data (the file is truncated)");
    }
    memcpy(out, reader->data + reader->pos, count);
    reader->pos += count;
}

static void qvl_png_error_fn(png_structp png, png_const_charp message) {
    qvl_png_info *info = (qvl_png_info *)png_get_error_ptr(png);
    if (info) {
        strncpy(info->message, message, sizeof(info->message) - 1);
        info->message[sizeof(info->message) - 1] = 0;
    }
    png_longjmp(png, 1);
}

static void qvl_png_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/// Decodes a PNG held in memory into rows of samples as stored, one sample per byte for bit depths 1/2/4
/// (values unscaled), two big-endian bytes per sample for 16-bit. No gamma, no tRNS expansion, no palette
/// expansion: Pillow applies none of them. On success `*pixels_out` holds `height * row_bytes` bytes that
/// the caller frees with `free`.
static inline int qvl_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, qvl_png_info *info,
                                 uint8_t **pixels_out) {
    memset(info, 0, sizeof(*info));
    *pixels_out = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, info, qvl_png_error_fn, qvl_png_warning_fn);
    if (!png) {
        return QVL_PNG_NO_MEMORY;
    }
    png_infop png_info = png_create_info_struct(png);
    if (!png_info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return QVL_PNG_NO_MEMORY;
    }
    qvl_png_reader reader = {data, size, 0};
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &png_info, NULL);
        return QVL_PNG_ERROR;
    }
    png_set_read_fn(png, &reader, qvl_png_read_fn);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // the pixel limit is ours (max_pixels)
    png_set_benign_errors(png, 1);
    png_read_info(png, png_info);

    uint32_t width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, png_info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    info->width = width;
    info->height = height;
    info->bit_depth = bit_depth;
    info->color_type = color_type;
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        png_destroy_read_struct(&png, &png_info, NULL);
        return QVL_PNG_TOO_LARGE;
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette = NULL;
        int count = 0;
        if (png_get_PLTE(png, png_info, &palette, &count) && palette) {
            if (count > 256) count = 256;
            for (int i = 0; i < count; i++) {
                info->palette[i * 3 + 0] = palette[i].red;
                info->palette[i * 3 + 1] = palette[i].green;
                info->palette[i * 3 + 2] = palette[i].blue;
            }
            info->num_palette = count;
        }
    }
    if (bit_depth < 8) {
        png_set_packing(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, png_info);
    info->channels = png_get_channels(png, png_info);
    size_t row_bytes = png_get_rowbytes(png, png_info);
    info->row_bytes = row_bytes;
    if (height == 0 || row_bytes == 0 || row_bytes > SIZE_MAX / height) {
        png_error(png, "image dimensions overflow");
    }
    pixels = (uint8_t *)malloc(row_bytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &png_info, NULL);
        return QVL_PNG_NO_MEMORY;
    }
    for (uint32_t y = 0; y < height; y++) {
        rows[y] = pixels + (size_t)y * row_bytes;
    }
    png_read_image(png, rows);
    free(rows);
    png_destroy_read_struct(&png, &png_info, NULL);
    *pixels_out = pixels;
    return QVL_PNG_OK;
}

#endif
