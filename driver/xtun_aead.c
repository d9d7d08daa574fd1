// SPDX-License-Identifier: GPL-2.0
/*
 * Glue for secure mode (aead.rs calls): the kernel crypto API's AEAD,
 * which Rust cannot reach because its request helpers are inline. The
 * sequences are ovpn's (drivers/net/ovpn/crypto_aead.c): one scratch
 * block holds the IV, the request and the scatterlist; the skb is
 * sealed and opened in place. Synchronous transforms only: the data path
 * runs in softirq or with bottom halves off and needs the result before
 * it goes on, as WireGuard's.
 */
#include <crypto/aead.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>

#include "xtun_shim.h"

#define XTUN_AEAD_TAG_LEN 16
#define XTUN_AEAD_NONCE_LEN 12

struct crypto_aead *xtun_aead_new(const char *alg, const u8 *key,
				  unsigned int key_len)
{
	struct crypto_aead *tfm;
	int err;

	tfm = crypto_alloc_aead(alg, 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(tfm))
		return tfm;
	err = crypto_aead_setkey(tfm, key, key_len);
	if (!err)
		err = crypto_aead_setauthsize(tfm, XTUN_AEAD_TAG_LEN);
	if (!err && crypto_aead_ivsize(tfm) != XTUN_AEAD_NONCE_LEN)
		err = -EINVAL;
	if (err) {
		/* crypto_destroy_tfm wipes the key schedule (kfree_sensitive). */
		crypto_free_aead(tfm);
		return ERR_PTR(err);
	}
	return tfm;
}

void xtun_aead_free(struct crypto_aead *tfm)
{
	crypto_free_aead(tfm);
}

const char *xtun_aead_driver_name(struct crypto_aead *tfm)
{
	return crypto_tfm_alg_driver_name(crypto_aead_tfm(tfm));
}

/* ovpn_aead_crypto_tmp_size and friends: the IV aligned for the transform,
 * then the request, then @nsg scatterlist entries. */
static size_t xtun_aead_tmp_size(struct crypto_aead *tfm, int nsg)
{
	size_t len = XTUN_AEAD_NONCE_LEN;

	len += crypto_aead_alignmask(tfm) & ~(crypto_tfm_ctx_alignment() - 1);
	len = ALIGN(len, crypto_tfm_ctx_alignment());
	len += sizeof(struct aead_request) + crypto_aead_reqsize(tfm);
	len = ALIGN(len, __alignof__(struct scatterlist));
	return len + array_size(sizeof(struct scatterlist), nsg);
}

/* One request over @skb's bytes from @offset: @ad_len bytes of associated
 * data, then @crypt_len bytes to encrypt (@seal) or to decrypt and check
 * (the ciphertext and its tag). */
static int xtun_aead_run(struct crypto_aead *tfm, struct sk_buff *skb,
			 unsigned int offset, unsigned int ad_len,
			 unsigned int crypt_len, unsigned int sg_len,
			 int nfrags, const u8 *nonce, bool seal)
{
	struct aead_request *req;
	struct scatterlist *sg;
	void *tmp;
	u8 *iv;
	int err;

	tmp = kmalloc(xtun_aead_tmp_size(tfm, nfrags), GFP_ATOMIC);
	if (!tmp)
		return -ENOMEM;
	iv = PTR_ALIGN((u8 *)tmp, crypto_aead_alignmask(tfm) + 1);
	req = (void *)PTR_ALIGN(iv + XTUN_AEAD_NONCE_LEN, crypto_tfm_ctx_alignment());
	sg = (void *)ALIGN((unsigned long)(req + 1) + crypto_aead_reqsize(tfm),
			   __alignof__(struct scatterlist));
	memcpy(iv, nonce, XTUN_AEAD_NONCE_LEN);

	sg_init_table(sg, nfrags);
	err = skb_to_sgvec_nomark(skb, sg, offset, sg_len);
	if (err < 0)
		goto out;
	sg_mark_end(&sg[err - 1]);
	aead_request_set_tfm(req, tfm);
	aead_request_set_callback(req, 0, NULL, NULL);
	aead_request_set_crypt(req, sg, sg, crypt_len, iv);
	aead_request_set_ad(req, ad_len);
	err = seal ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
out:
	/* The request's context held cipher state. */
	kfree_sensitive(tmp);
	return err;
}

/* Encrypts in place the bytes of @skb after its first @ad_len (which are
 * authenticated, not encrypted) and appends the tag. */
int xtun_aead_seal(struct crypto_aead *tfm, struct sk_buff *skb,
		   unsigned int ad_len, const u8 *nonce)
{
	struct sk_buff *trailer;
	unsigned int text_len;
	int nfrags;

	if (skb->len < ad_len)
		return -EINVAL;
	text_len = skb->len - ad_len;
	nfrags = skb_cow_data(skb, XTUN_AEAD_TAG_LEN, &trailer);
	if (nfrags < 0)
		return nfrags;
	pskb_put(skb, trailer, XTUN_AEAD_TAG_LEN);
	return xtun_aead_run(tfm, skb, 0, ad_len, text_len, skb->len, nfrags,
			     nonce, true);
}

/* Checks and decrypts in place the bytes of @skb from @offset: @ad_len
 * bytes of associated data, the ciphertext, the tag; then trims the tag.
 * -EBADMSG: not authentic (the skb's bytes are then undefined). */
int xtun_aead_open(struct crypto_aead *tfm, struct sk_buff *skb,
		   unsigned int offset, unsigned int ad_len, const u8 *nonce)
{
	struct sk_buff *trailer;
	unsigned int sg_len;
	int nfrags, err;

	if (skb->len < offset + ad_len + XTUN_AEAD_TAG_LEN)
		return -EBADMSG;
	sg_len = skb->len - offset;
	nfrags = skb_cow_data(skb, 0, &trailer);
	if (nfrags < 0)
		return nfrags;
	err = xtun_aead_run(tfm, skb, offset, ad_len, sg_len - ad_len, sg_len,
			    nfrags, nonce, false);
	if (err)
		return err;
	/* As WireGuard: the tag proved the frame unchanged since the sender
	 * checksummed it (secure mode offers no checksum offload), and the
	 * checksum the NIC took was over the ciphertext. */
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;
	return pskb_trim(skb, skb->len - XTUN_AEAD_TAG_LEN);
}
