// 16-bit PNG through libpng's low-level API. libpng's simplified API treats 16-bit data as linear
// light and gamma-encodes it on the way to 8 bits, so a 16-bit copy of an 8-bit photo (each value
// ×257) would decode to other values. Here samples are scaled to 8 bits as stored (v/257,
// rounded) with no gamma step, so both files give the same pixels. libpng reports errors by
// longjmp; they come back as messages.
#include "image_codecs.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jmp_buf jump;
    char message[256];
} ic_png_error;

static void ic_png_on_error(png_structp png, png_const_charp msg) {
    ic_png_error *e = png_get_error_ptr(png);
    snprintf(e->message, sizeof e->message, "%s", msg);
    longjmp(e->jump, 1);
}

static void ic_png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int ic_png_decode16_file(const char *path, int channels, ic_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (channels != 1 && channels != 3) {
        snprintf(err, errlen, "unsupported channel count %d", channels);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open PNG");
        return -1;
    }
    ic_png_error e;
    e.message[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &e, ic_png_on_error, ic_png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    // volatile: assigned after setjmp and read after a longjmp back to it.
    unsigned char *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        snprintf(err, errlen, "out of memory for the PNG decoder");
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        fclose(f);
        return -1;
    }
    if (setjmp(e.jump)) {
        snprintf(err, errlen, "corrupt PNG: %s", e.message);
        free(rgb);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((unsigned long long)w * h > (1ull << 28)) png_error(png, "image too large");
    png_set_scale_16(png);             // (v·255 + 32895) >> 16: exactly v/257 for v = 257·k
    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row layout after conversion");
    rgb = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!rgb || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rgb + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    rows = NULL;
    png_byte colour = png_get_color_type(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    unsigned char *pixels = rgb;
    if (channels == 1) {
        pixels = malloc((size_t)w * h);
        if (!pixels) {
            free(rgb);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        int gray = !(colour & PNG_COLOR_MASK_COLOR);
        for (size_t i = 0; i < (size_t)w * h; i++) {
            int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
            pixels[i] = gray ? (unsigned char)r : (unsigned char)((r * 299 + g * 587 + b * 114 + 500) / 1000);
        }
        free(rgb);
    }
    out->width = (int)w;
    out->height = (int)h;
    out->channels = channels;
    out->pixels = pixels;
    return 0;
}

int ic_png_encode16_file(const char *path, const unsigned short *samples, int width, int height, int channels,
                         char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot open PNG for writing");
        return -1;
    }
    ic_png_error e;
    e.message[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, ic_png_on_error, ic_png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile row = NULL;
    if (!png || !info || setjmp(e.jump)) {
        snprintf(err, errlen, "cannot write PNG: %s", e.message);
        free(row);
        png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 16,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    row = malloc((size_t)width * channels * 2);
    if (!row) png_error(png, "out of memory");
    for (int y = 0; y < height; y++) {
        for (int i = 0; i < width * channels; i++) {   // PNG stores 16-bit samples big-endian
            unsigned short v = samples[(size_t)y * width * channels + i];
            row[2 * i] = (unsigned char)(v >> 8);
            row[2 * i + 1] = (unsigned char)(v & 0xFF);
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    free(row);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}
