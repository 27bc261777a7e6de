// JPEG through libjpeg(-turbo). Its default error handler calls exit(); here error_exit longjmps back
// and the message is returned instead.
#include "image_codecs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
} ic_jpeg_error;

static void ic_jpeg_error_exit(j_common_ptr cinfo) {
    ic_jpeg_error *e = (ic_jpeg_error *)cinfo->err;
    longjmp(e->jump, 1);
}

static void ic_jpeg_emit_message(j_common_ptr cinfo, int level) {
    ic_jpeg_error *e = (ic_jpeg_error *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
        cinfo->err->num_warnings++;
    }
}

static void ic_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void ic_jpeg_message(j_common_ptr cinfo, char *err, size_t errlen) {
    char buffer[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, buffer);
    snprintf(err, errlen, "%s", buffer);
}

static void ic_jpeg_install(ic_jpeg_error *e) {
    jpeg_std_error(&e->pub);
    e->pub.error_exit = ic_jpeg_error_exit;
    e->pub.emit_message = ic_jpeg_emit_message;
    e->pub.output_message = ic_jpeg_output_message;
    e->truncated = 0;
}

int ic_jpeg_decode_memory(const unsigned char *data, size_t size, int channels, ic_image *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    ic_jpeg_error jerr;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    memset(out, 0, sizeof(*out));
    if (channels != 1 && channels != 3) {
        snprintf(err, errlen, "unsupported channel count %d", channels);
        return -1;
    }
    cinfo.err = NULL;
    ic_jpeg_install(&jerr);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        ic_jpeg_message((j_common_ptr)&cinfo, err, errlen);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, n = cinfo.output_components;
    pixels = malloc((size_t)w * h * channels);
    row = malloc((size_t)w * n);
    if (!pixels || !row) {
        snprintf(err, errlen, "out of memory for a %dx%d JPEG", w, h);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&cinfo, rows, 1);
        unsigned char *dst = pixels + (size_t)y * w * channels;
        if (!cmyk) {
            memcpy(dst, row, (size_t)w * channels);
            continue;
        }
        // Adobe CMYK JPEGs store inverted values: R = C*K/255 on the stored bytes.
        for (int x = 0; x < w; x++) {
            const unsigned char *p = row + 4 * x;
            int r = p[0] * p[3] / 255, g = p[1] * p[3] / 255, b = p[2] * p[3] / 255;
            if (channels == 3) {
                dst[3 * x] = (unsigned char)r; dst[3 * x + 1] = (unsigned char)g; dst[3 * x + 2] = (unsigned char)b;
            } else {
                dst[x] = (unsigned char)((r * 299 + g * 587 + b * 114 + 500) / 1000);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    int truncated = jerr.truncated;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (truncated) {
        snprintf(err, errlen, "truncated JPEG data (premature end of file)");
        free(pixels);
        return -1;
    }
    out->width = w;
    out->height = h;
    out->channels = channels;
    out->pixels = pixels;
    return 0;
}

int ic_jpeg_encode_file(const char *path, const unsigned char *pixels, int width, int height, int channels,
                        int quality, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    ic_jpeg_error jerr;
    FILE *volatile file = fopen(path, "wb");
    if (!file) {
        snprintf(err, errlen, "cannot open for writing");
        return -1;
    }
    ic_jpeg_install(&jerr);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        ic_jpeg_message((j_common_ptr)&cinfo, err, errlen);
        jpeg_destroy_compress(&cinfo);
        fclose(file);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1] = {(JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels)};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(file) != 0) {
        snprintf(err, errlen, "write failed");
        return -1;
    }
    return 0;
}

void ic_image_free(ic_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}
